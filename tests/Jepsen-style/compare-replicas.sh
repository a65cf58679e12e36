#!/usr/bin/env bash
# Compares the replicas of a finished Jepsen-style run from their logs alone, including divergences that a
# later wipe healed before the end-of-run check:
#   1. snapshot digests: every "Snapshot taken at index N (… SHA-256 D)" line; one index, one digest;
#   2. apply traces (logs/nN.apply): one index, one (term, command digest) across nodes and restarts (the second
#      and later commands of an entry that holds several are traced as index.position); and an
#      index one node applied a command at must not be one another node skipped over. (The WAL hands no
#      entry without a command to the machine, so an index missing between two applied ones is such an
#      entry there: an election no-op.)
# With the membership nemesis the run writes logs/members, the nodes that are members at the end (nodes added
# during the run included); only their logs are compared, and nodes removed during the run are left out.
# Usage: tests/Jepsen-style/compare-replicas.sh <run folder>   (exit 1 when replicas differ)
set -euo pipefail
shopt -s nullglob
logs="${1:?usage: compare-replicas.sh <run folder>}/logs"
[ -d "$logs" ] || { echo "no logs folder in $1" >&2; exit 2; }
status=0
node_logs=("$logs"/n*.log)
traces=("$logs"/n*.apply)
if [ -f "$logs/members" ]; then
  node_logs=(); traces=()
  while read -r member; do
    [ -n "$member" ] || continue
    [ -f "$logs/$member.log" ] && node_logs+=("$logs/$member.log")
    [ -f "$logs/$member.apply" ] && traces+=("$logs/$member.apply")
  done < "$logs/members"
  echo "members at the end: $(tr '\n' ' ' < "$logs/members")(removed nodes left out)"
fi

digests=$(for log in "${node_logs[@]}"; do
  node=$(basename "$log" .log)
  { grep -o 'Snapshot taken at index [0-9]* ([0-9]* bytes, SHA-256 [0-9a-f]*)' "$log" || true; } \
    | awk -v node="$node" '{ gsub(/\)/, "", $9); print $5, node, $9 }'
done | sort -k1,1n -k2 -u)
split=$(awk '{ if ($1 in seen && seen[$1] != $3) print $1; seen[$1] = $3 }' <<<"$digests" | sort -nu | head -n 1)
if [ -n "$split" ]; then
  echo "snapshot digests differ first at index $split:"
  awk -v index_="$split" '$1 == index_' <<<"$digests"
  status=1
else
  echo "snapshot digests agree ($(awk 'NF { print $1 }' <<<"$digests" | sort -u | wc -l) indexes)"
fi

if ((${#traces[@]} > 0)); then
  # One line per index and what a node had there: "term digest" for a command, "no-op" for a skipped index.
  conflicts=$(for trace in "${traces[@]}"; do
    awk '$2 == "-" { last = int($1); next }
         { at = int($1); if (last != "" && at > last + 1) for (i = last + 1; i < at; i++) print i, "no-op"
           print $1, $2, $5; last = at }' "$trace"
  done | sort -u | awk '{ n[$1]++ } n[$1] == 2 { print $1 }' | sort -n | head -n 5)
  if [ -n "$conflicts" ]; then
    echo "applied entries differ (index: node term digest; a node not listed had no command there) first at:"
    for index in $conflicts; do grep -H "^$index " "${traces[@]}" | sed 's|.*/||' | sort -u; done
    status=1
  else
    echo "apply traces agree across ${#traces[@]} nodes ($(cat "${traces[@]}" | awk '$2 != "-" { print $1 }' | sort -u | wc -l) indexes)"
  fi
fi
exit "$status"
