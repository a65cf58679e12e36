#!/usr/bin/env bash
# Reproduces the loss of one node's data under a large lock table: a 3-node cluster (scripts/local-cluster.sh,
# data in ./data/wipe) gets N granted EX locks (one resource each, 60 sessions of 1 h), then one follower
# is killed with kill -9, its data directory emptied, and the node started again. The script follows the
# wiped node's applied index against the leader's commit index, measures the leader's lock latency at rest
# and during the catch-up, counts the telling log lines, and compares the replicas' state hashes.
#   scripts/large-table-wipe.sh [locks] [node]          (defaults: 300000 node2)
#   MODE=join scripts/large-table-wipe.sh [locks] [node]  (data in ./data/join)
#   MODE=behind scripts/large-table-wipe.sh [locks] [node]  (data in ./data/behind)
# MODE=join wipes nothing: it starts node4 (HTTP base+40, Raft base+41) with an empty data directory and
# --join the named member's HTTP URL, and follows node4 in GET /v1/cluster/members (learner, then voter) and
# its applied index against the leader's commit index; the summary then covers all four nodes.
# MODE=behind wipes nothing either: it fills BEHIND_FIRST of the locks (default a third), kill -9s the named
# follower and keeps its data directory, fills the rest in a second lockspace (fill2) while it is down, so the
# leader takes a newer snapshot above that follower's last index, then starts the follower again with its
# data: a follower with a non-empty log behind the leader's snapshot, which Raft's own install must bring
# back (seeding is only for an empty node). It is followed and judged as a wiped node; the summary counts
# every "Retry replication from entry" line (not only entry 0).
# Environment: SNAPSHOT_EVERY (the entries per snapshot the script waits for, default
# $RAFTDLM_SnapshotEveryEntries or 100000, the server's default), MAX_WAIT (s the catch-up may take, default 300), SESSIONS (60), WORKERS (32, for the fill),
# TOLERANCE (entries the wiped node may trail the leader's commit index and count as caught up, 100),
# REV (a git revision: clone and build it in ./data/wipe-builds/<sha> and run that instead of this checkout;
# the load generator always comes from this checkout), KEEPALIVE=1 (keep the fill's sessions alive in the
# background even when their TTL outlasts the experiment). Server settings pass through the environment to
# the nodes local-cluster.sh starts: e.g. RAFTDLM_SeedFromPeers=false turns off the seeding of an empty node
# from a peer's snapshot, so the snapshot comes through Raft's own install as before that existed.
# RAFTDLM_BASE_PORT moves the ports as for local-cluster.sh (e.g. 9400: HTTP 9410/9420/9430, node4 9440).
# Exit 0: the wiped (joined: and voter) node caught up, no node lost its leader and the state hashes agree; 1 otherwise; 2 when
# the cluster could not be set up (ports busy, no leader, fill failed).
# Output: the progress and a summary on stdout; files in ./data/wipe or ./data/join (node logs, fill.json, rest.json,
# catchup.json, poll.log, summary.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOCKS=${1:-300000}
WIPE=${2:-node2}
ASKED=$WIPE
MAX_WAIT=${MAX_WAIT:-300}
SESSIONS=${SESSIONS:-60}
WORKERS=${WORKERS:-32}
TOLERANCE=${TOLERANCE:-100}
TTL_MS=3600000                        # the server's maximum session TTL (LockLimits.MaxTtlMs)
REV=${REV:-}
MODE=${MODE:-wipe}
SNAPSHOT_EVERY=${SNAPSHOT_EVERY:-${RAFTDLM_SnapshotEveryEntries:-100000}}
BEHIND_FIRST=${BEHIND_FIRST:-$((LOCKS / 3))}   # behind: the locks taken before the follower is killed
NODES=(node1 node2 node3)
ALL=(node1 node2 node3)               # the nodes the summary covers (join: and node4)
JOINER=node4
export RAFTDLM_BASE_PORT=${RAFTDLM_BASE_PORT:-7700}
BASE=$RAFTDLM_BASE_PORT
export RAFTDLM_DATA=$ROOT/data/$MODE
OUT=$RAFTDLM_DATA
ENDPOINTS="http://127.0.0.1:$((BASE + 10)),http://127.0.0.1:$((BASE + 20)),http://127.0.0.1:$((BASE + 30))"
LOADGEN_DLL=$ROOT/bench/LoadGenerator/bin/Release/net10.0/RaftDlm.LoadGenerator.dll
LOADGEN=(dotnet "$LOADGEN_DLL")

[[ $LOCKS =~ ^[0-9]+$ ]] || { echo "locks must be a number" >&2; exit 2; }
[[ $MODE =~ ^(wipe|join|behind)$ ]] || { echo "MODE must be wipe, join or behind" >&2; exit 2; }
[[ $BASE =~ ^[0-9]+$ ]] || { echo "RAFTDLM_BASE_PORT must be a number" >&2; exit 2; }
[ "$MODE" = join ] && ALL+=("$JOINER")
[[ $WIPE =~ ^node[123]$ ]] || { echo "node must be node1, node2 or node3" >&2; exit 2; }
[[ $MAX_WAIT =~ ^[0-9]+$ && $TOLERANCE =~ ^[0-9]+$ ]] || { echo "MAX_WAIT and TOLERANCE must be numbers" >&2; exit 2; }
[[ $SNAPSHOT_EVERY =~ ^[1-9][0-9]*$ && $BEHIND_FIRST =~ ^[0-9]+$ ]] && [ "$BEHIND_FIRST" -le "$LOCKS" ] \
  || { echo "SNAPSHOT_EVERY must be a positive number, BEHIND_FIRST a number up to locks" >&2; exit 2; }
# The leader's log names a follower's failed rounds "Retry replication from entry <n>"; a wiped node's loop
# retries from entry 0, a node behind the snapshot from anywhere.
RETRY_PATTERN="Retry replication from entry 0"
[ "$MODE" = behind ] && RETRY_PATTERN="Retry replication from entry"

http_port() { echo $((BASE + 10 * ${1#node})); }
url() { echo "http://127.0.0.1:$(http_port "$1")"; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
# A node's view as "commitIndex appliedIndex leaderId" ("- - -" when it does not answer within 2 s).
view() {
  curl -s --max-time 2 "$(url "$1")/v1/cluster?stale=true" 2>/dev/null \
    | jq -r '"\(.commitIndex // "-") \(.appliedIndex // "-") \(.leaderId // "(none)")"' 2>/dev/null || echo "- - -"
}
json_field() { jq -r ".$2 // empty" "$1" 2>/dev/null || true; }
pid_of() { [ -f "$RAFTDLM_DATA/$1.pid" ] && cat "$RAFTDLM_DATA/$1.pid" || true; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
# Stops a process this script started: SIGTERM, up to $2 s, then SIGKILL.
stop_pid() {
  local pid=$1 limit=${2:-10} i
  alive "$pid" || return 0
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < limit * 10; i++)); do alive "$pid" || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
cpu_ticks() { # pid -> utime + stime in clock ticks (0 when gone)
  local stat; stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  awk '{ print $12 + $13 }' <<<"${stat##*) }"     # fields 14 and 15 of /proc/<pid>/stat
}
newest_snapshot() { # node -> "name bytes" of the snapshot with the highest index, or nothing
  local dir=$RAFTDLM_DATA/$1/snapshots
  [ -d "$dir" ] || return 0
  find "$dir" -maxdepth 1 -type f -regex '.*/[0-9]+-[0-9]+' -printf '%f %s\n' | sort -t- -k1,1n | tail -1
}

# --- the servers to run: this checkout, or a clone of REV -------------------------------------------------
if [ -n "$REV" ]; then
  sha=$(git rev-parse --short "$REV")
  CLUSTER_DIR=$ROOT/data/wipe-builds/$sha
  if [ ! -d "$CLUSTER_DIR/.git" ]; then
    rm -rf "$CLUSTER_DIR"
    git clone -q "$ROOT" "$CLUSTER_DIR"
    git -C "$CLUSTER_DIR" checkout -q "$sha"
  fi
  echo "servers: revision $sha, built in $CLUSTER_DIR"
else
  CLUSTER_DIR=$ROOT
  echo "servers: this checkout ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src 2>/dev/null || echo ', with uncommitted changes in src/'))"
fi
CLUSTER=$CLUSTER_DIR/scripts/local-cluster.sh
flock -w 1200 /tmp/build.lock dotnet build -c Release -nologo -v quiet "$CLUSTER_DIR/src/HttpApi" >/dev/null
flock -w 1200 /tmp/build.lock dotnet build -c Release -nologo -v quiet "$ROOT/bench/LoadGenerator" >/dev/null

# --- cleanup: everything this script started, by pid ------------------------------------------------------
HELPERS=()
STARTED=0
cleanup() {
  local pid n
  for pid in "${HELPERS[@]}"; do stop_pid "$pid" 5; done
  if [ "$STARTED" = 1 ]; then
    for n in "${ALL[@]}"; do
      pid=$(pid_of "$n")
      [ -n "$pid" ] && stop_pid "$pid" 10
      rm -f "$RAFTDLM_DATA/$n.pid"
    done
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A cluster of an earlier run of this script (its pid files in ./data/$MODE) is stopped.
for n in "${ALL[@]}"; do
  pid=$(pid_of "$n")
  if alive "$pid"; then echo "stopping $n of an earlier run (pid $pid)"; stop_pid "$pid" 10; fi
  rm -f "$RAFTDLM_DATA/$n.pid"
done
# The ports are shared with scripts/compare-builds.sh and anyone's local-cluster.sh: wait until they are free.
for attempt in $(seq 0 20); do
  busy=""
  for n in "${ALL[@]}"; do
    busy+=$(ss -ltnp 2>/dev/null | grep -E ":($(http_port "$n")|$(($(http_port "$n") + 1)))\b" || true)
  done
  [ -z "$busy" ] && break
  if [ "$attempt" = 20 ]; then echo "ports $((BASE + 10))-$((BASE + 10 * ${#ALL[@]} + 1)) still in use after 10 min:"; echo "$busy"; exit 2; fi
  echo "ports $((BASE + 10))-$((BASE + 10 * ${#ALL[@]} + 1)) in use, waiting 30 s (${attempt}/20)"
  sleep 30
done

rm -rf "${RAFTDLM_DATA:?}"/node1 "$RAFTDLM_DATA"/node2 "$RAFTDLM_DATA"/node3 "$RAFTDLM_DATA"/node4 "$RAFTDLM_DATA"/nodes "$RAFTDLM_DATA"/*.log "$RAFTDLM_DATA"/*.json \
  "$RAFTDLM_DATA"/*.err "$RAFTDLM_DATA"/poll.log "$RAFTDLM_DATA"/summary.txt
mkdir -p "$OUT"

# --- a. the cluster ---------------------------------------------------------------------------------------
STARTED=1
flock -o -w 1200 /tmp/build.lock "$CLUSTER" start >"$OUT/start.log" 2>&1 || { cat "$OUT/start.log"; exit 2; }
LEADER=""
for _ in $(seq 1 120); do
  read -r _ _ l1 <<<"$(view node1)"; read -r _ _ l2 <<<"$(view node2)"; read -r _ _ l3 <<<"$(view node3)"
  if [ "$l1" != "(none)" ] && [ "$l1" != "-" ] && [ "$l1" = "$l2" ] && [ "$l2" = "$l3" ]; then LEADER=$l1; break; fi
  sleep 0.5
done
[ -n "$LEADER" ] || { echo "no leader within 60 s"; "$CLUSTER" status; exit 2; }
echo "cluster up, leader $LEADER (pids $(pid_of node1) $(pid_of node2) $(pid_of node3))"

# --- b. the lock table ------------------------------------------------------------------------------------
# fill <locks> <lockspace> <name>: N EX locks on fill-0 … in the lockspace over SESSIONS new sessions, the
# result in $OUT/<name>.json; sets FILLED to the number taken.
fill() {
  local locks=$1 lockspace=$2 name=$3
  timeout --signal=TERM --kill-after=60 $((600 + locks / 100)) "${LOADGEN[@]}" fill --endpoints "$ENDPOINTS" --locks "$locks" \
    --lockspace "$lockspace" --sessions "$SESSIONS" --workers "$WORKERS" --ttl-ms "$TTL_MS" \
    >"$OUT/$name.json" 2> >(tee "$OUT/$name.err" >&2) || true
  echo "$name: $(jq -c 'del(.SessionIds)' "$OUT/$name.json" 2>/dev/null || echo 'no result')"
  FILLED=$(json_field "$OUT/$name.json" Taken)
}
# The newest snapshot (every SNAPSHOT_EVERY entries) is written in the background: wait (up to 60 s) until
# each named node has one at the leader's commit index rounded down to a snapshot.
wait_snapshots() {
  local commit expected ok n s idx
  read -r commit _ _ <<<"$(view "$LEADER")"
  expected=$(((${commit/-/0} / SNAPSHOT_EVERY) * SNAPSHOT_EVERY))
  for _ in $(seq 1 120); do
    ok=1
    for n in "$@"; do
      s=$(newest_snapshot "$n"); idx=${s%%-*}
      [ "${idx:-0}" -ge "$expected" ] || ok=0
    done
    [ "$ok" = 1 ] && return 0
    sleep 0.5
  done
}
FIRST=$LOCKS
[ "$MODE" = behind ] && FIRST=$BEHIND_FIRST
echo "filling $FIRST EX locks over $SESSIONS sessions from $WORKERS workers$([ "$MODE" = behind ] && echo " (of $LOCKS: the rest while $WIPE is down)")"
FILL_STARTED=$(now_ms)
fill "$FIRST" fill fill
TAKEN=$FILLED
[ "${TAKEN:-0}" -gt 0 ] || [ "$FIRST" = 0 ] || { echo "the fill took no lock"; exit 2; }
wait_snapshots "${NODES[@]}"
echo "after the fill:"
for n in "${NODES[@]}"; do
  read -r c a l <<<"$(view "$n")"
  echo "  $n: commitIndex $c, appliedIndex $a, leader $l, newest snapshot $(newest_snapshot "$n" | awk '{ printf "%s (%d bytes, %.1f MB)", $1, $2, $2 / 1e6 } END { if (NR == 0) printf "none" }')"
done

# behind: the follower goes down with its data; the rest of the table is filled without it, so the leader's
# newest snapshot ends above the follower's last index.
if [ "$MODE" = behind ]; then
  read -r _ _ LEADER <<<"$(view "$LEADER")"
  case "$LEADER" in node1|node2|node3) ;; *) echo "no leader before the kill"; exit 2 ;; esac
  if [ "$WIPE" = "$LEADER" ]; then
    for n in "${NODES[@]}"; do [ "$n" != "$LEADER" ] && { WIPE=$n; break; }; done
    echo "$ASKED is the leader: taking the follower $WIPE down instead"
  fi
  read -r _ BEHIND_APPLIED _ <<<"$(view "$WIPE")"
  BEHIND_SNAPSHOT=$(newest_snapshot "$WIPE" | awk '{ print $1 }')
  victim=$(pid_of "$WIPE")
  kill -9 "$victim"
  for _ in $(seq 1 100); do alive "$victim" || break; sleep 0.1; done
  rm -f "$RAFTDLM_DATA/$WIPE.pid"
  echo "$WIPE (pid $victim) killed with kill -9 at applied index $BEHIND_APPLIED (newest snapshot ${BEHIND_SNAPSHOT:-none}), its data kept"
  SECOND=$((LOCKS - FIRST))
  echo "filling the other $SECOND EX locks (lockspace fill2, $SESSIONS more sessions) while $WIPE is down"
  fill "$SECOND" fill2 fill2
  TAKEN2=$FILLED
  [ "${TAKEN2:-0}" -gt 0 ] || [ "$SECOND" = 0 ] || { echo "the second fill took no lock"; exit 2; }
  TAKEN=$((TAKEN + ${TAKEN2:-0}))
  survivors=()
  for n in "${NODES[@]}"; do [ "$n" != "$WIPE" ] && survivors+=("$n"); done
  wait_snapshots "${survivors[@]}"
  leader_snapshot=$(newest_snapshot "$LEADER" | awk '{ print $1 }')
  echo "after the second fill: $LEADER's newest snapshot ${leader_snapshot:-none}; $WIPE stopped at applied index $BEHIND_APPLIED"
  [[ $BEHIND_APPLIED =~ ^[0-9]+$ ]] && [ "${leader_snapshot%%-*}" -gt "$BEHIND_APPLIED" ] 2>/dev/null \
    || { echo "the leader's newest snapshot is not above $WIPE's last index: nothing to show (more locks, or a smaller SNAPSHOT_EVERY)"; exit 2; }
fi
SNAPSHOT=$(newest_snapshot "$LEADER")

# --- c. the leader's lock latency at rest -----------------------------------------------------------------
timeout --signal=TERM --kill-after=30 120 "${LOADGEN[@]}" uncontended --endpoints "$(url "$LEADER")" --workers 1 --seconds 10 \
  >"$OUT/rest.json" 2>"$OUT/rest.err" || true
echo "at rest: $(cat "$OUT/rest.json" 2>/dev/null || echo 'no result')"

# --- d. kill, wipe, restart (join: start node4 with --join; behind: restart the follower with its data) ---
read -r _ _ LEADER <<<"$(view "$LEADER")"
case "$LEADER" in node1|node2|node3) ;; *) echo "no leader before the wipe"; exit 2 ;; esac
THROUGH=""
if [ "$MODE" = join ]; then THROUGH=$WIPE; WIPE=$JOINER
elif [ "$MODE" = behind ]; then :
elif [ "$WIPE" = "$LEADER" ]; then
  for n in "${NODES[@]}"; do [ "$n" != "$LEADER" ] && { WIPE=$n; break; }; done
  echo "$ASKED is the leader: wiping the follower $WIPE instead"
fi
# Where each log stood at the wipe: the counts below are of the lines written since.
declare -A LOG_FROM
for n in "${NODES[@]}"; do LOG_FROM[$n]=$(($(wc -l <"$RAFTDLM_DATA/$n.log") + 1)); done
if [ "$MODE" = join ]; then
  LOG_FROM[$JOINER]=1
  echo "starting $JOINER with an empty data directory, --join $(url "$THROUGH") ($THROUGH)"
elif [ "$MODE" = behind ]; then
  echo "starting $WIPE again with its data (applied index $BEHIND_APPLIED at the kill, the leader's snapshot ${leader_snapshot})"
else
  victim=$(pid_of "$WIPE")
  kill -9 "$victim"
  for _ in $(seq 1 100); do alive "$victim" || break; sleep 0.1; done
  rm -f "$RAFTDLM_DATA/$WIPE.pid"
  find "${RAFTDLM_DATA:?}/$WIPE" -mindepth 1 -delete
  echo "$WIPE (pid $victim) killed with kill -9, $RAFTDLM_DATA/$WIPE emptied; starting it again"
fi
WIPED_AT=$(date -u +%H:%M:%S.%3N)
# The leader's latency from just before the restart to the end of the catch-up: the load generator's own
# warm-up (3 s, not measured) is over before the node starts.
"${LOADGEN[@]}" uncontended --endpoints "$(url "$LEADER")" --workers 1 --seconds "$((MAX_WAIT + 60))" --warmup 3 \
  --timeline "$OUT/catchup-timeline.csv" >"$OUT/catchup.json" 2>"$OUT/catchup.err" &
latency=$!
HELPERS+=("$latency")
sleep 4
if [ "$MODE" = join ]; then
  # As scripts/local-cluster.sh starts a node, with only itself as --members: it learns the cluster by joining.
  mkdir -p "$RAFTDLM_DATA/$JOINER"
  JOINER_SELF="$JOINER=127.0.0.1:$(($(http_port "$JOINER") + 1))=$(url "$JOINER")"
  nohup dotnet "$CLUSTER_DIR/src/HttpApi/bin/Release/net10.0/RaftDlm.Server.dll" --node-id "$JOINER" --http "$(url "$JOINER")" \
    --raft "127.0.0.1:$(($(http_port "$JOINER") + 1))" --data "$RAFTDLM_DATA/$JOINER" --members "$JOINER_SELF" \
    --join "$(url "$THROUGH")" >>"$RAFTDLM_DATA/$JOINER.log" 2>&1 &
  echo $! >"$RAFTDLM_DATA/$JOINER.pid"
  restarter=$!
else
  flock -o -w 600 /tmp/build.lock "$CLUSTER" start "$WIPE" >"$OUT/restart.log" 2>&1 &
  restarter=$!
  HELPERS+=("$restarter")
fi
RESTARTED=""
for _ in $(seq 1 1300); do
  RESTARTED=$(pid_of "$WIPE")
  [ -n "$RESTARTED" ] && break
  alive "$restarter" || break
  sleep 0.5
done
[ -n "$RESTARTED" ] || { echo "$WIPE did not start"; cat "$OUT/restart.log"; exit 2; }
T0=$(now_ms)
declare -A CPU_FROM
for n in "${ALL[@]}"; do CPU_FROM[$n]=$(cpu_ticks "$(pid_of "$n")"); done
# CPU seconds a node's process used since the restart (the wiped node: since its start).
cpu_seconds_since() { awk -v a="${CPU_FROM[$1]}" -v b="$(cpu_ticks "$(pid_of "$1")")" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) / hz }'; }
echo "$WIPE started$([ "$MODE" != join ] && echo ' again') (pid $RESTARTED)"

# The fill's sessions live TTL_MS from their opening: keep them alive if the experiment could outlast that.
needed_s=$(( ($(now_ms) - FILL_STARTED) / 1000 + MAX_WAIT + 300 ))
if [ "${KEEPALIVE:-0}" = 1 ] || [ "$needed_s" -gt $((TTL_MS / 1000)) ]; then
  ids=$(jq -rs '[.[].SessionIds[]] | join(",")' "$OUT/fill.json" $([ "$MODE" = behind ] && echo "$OUT/fill2.json"))
  "${LOADGEN[@]}" keepalive --endpoints "$ENDPOINTS" --session-ids "$ids" --seconds $((MAX_WAIT + 120)) >"$OUT/keepalive.json" 2>"$OUT/keepalive.err" &
  HELPERS+=("$!")
  echo "keeping the fill's sessions alive in the background (pid $!)"
fi

# --- e. catch-up, with the leader's latency measured alongside (since before the restart) ------------------
CAUGHT=""
APPLIED_AT=""   # join: when node4's applied index first came within TOLERANCE of the leader's commit index
LEARNER_AT=""   # join: when the leader first listed node4 in /v1/cluster/members
VOTER_AT=""     # join: when the leader first listed node4 as a voter
JOIN_EXIT=""
last_print=-5000
leader_now=$LEADER
# join: node4's role in the leader's GET /v1/cluster/members ("-" when not listed or no answer).
role_of() {
  curl -s --max-time 2 "$(url "$leader_now")/v1/cluster/members" 2>/dev/null \
    | jq -r --arg id "$1" '(.members[] | select(.id == $id) | .role) // "-"' 2>/dev/null || echo "-"
}
: >"$OUT/poll.log"
while :; do
  elapsed=$(($(now_ms) - T0))
  read -r wc wa wl <<<"$(view "$WIPE")"
  read -r lc la ll <<<"$(view "$leader_now")"
  if [ "$ll" != "$leader_now" ] && [[ $ll =~ ^node[1-4]$ ]]; then
    echo "  the leader is now $ll (was $leader_now)"; leader_now=$ll
    read -r lc la ll <<<"$(view "$leader_now")"
  fi
  line="t=$(since "$T0")s $WIPE: applied $wa commit $wc leader $wl | $leader_now (leader): commit $lc applied $la"
  within=0
  [[ $wa =~ ^[0-9]+$ && $lc =~ ^[0-9]+$ ]] && [ "$wa" -gt 0 ] && [ $((lc - wa)) -le "$TOLERANCE" ] && within=1
  if [ "$MODE" = join ]; then
    role=$(role_of "$WIPE")
    line+=" | $WIPE listed as $role"
    [ -z "$LEARNER_AT" ] && [ "$role" != "-" ] && { LEARNER_AT=$(since "$T0"); echo "$line"; }
    [ -z "$VOTER_AT" ] && [ "$role" = voter ] && { VOTER_AT=$(since "$T0"); echo "$line"; }
    [ -z "$APPLIED_AT" ] && [ "$within" = 1 ] && APPLIED_AT=$(since "$T0")
    echo "$line" >>"$OUT/poll.log"
    if [ -n "$VOTER_AT" ] && [ "$within" = 1 ]; then CAUGHT=$(since "$T0"); echo "$line"; break; fi
    if ! alive "$RESTARTED"; then
      wait "$RESTARTED" 2>/dev/null && JOIN_EXIT=0 || JOIN_EXIT=$?
      echo "$WIPE exited (code $JOIN_EXIT)"; echo "$line"; break
    fi
  else
    echo "$line" >>"$OUT/poll.log"
    if [ "$within" = 1 ]; then CAUGHT=$(since "$T0"); echo "$line"; break; fi
  fi
  if [ $((elapsed - last_print)) -ge 5000 ]; then echo "$line"; last_print=$elapsed; fi
  [ "$elapsed" -ge $((MAX_WAIT * 1000)) ] && break
  sleep 0.5
done
WINDOW_S=$(since "$T0")
END_MS=$(now_ms)
CPU_USED=""
for n in "${ALL[@]}"; do CPU_USED+=" $n $(cpu_seconds_since "$n") s"; done
kill -TERM "$latency" 2>/dev/null || true
for _ in $(seq 1 900); do alive "$latency" || break; sleep 0.1; done
stop_pid "$latency" 1

# --- f. summary -------------------------------------------------------------------------------------------
since_wipe() { tail -n +"${LOG_FROM[$1]}" "$RAFTDLM_DATA/$1.log"; }
count_since() { # node pattern [grep option] -> lines matching since the wipe
  since_wipe "$1" | grep -c ${3:-} -e "$2" || true
}
# The state hashes: compared across the nodes at the leader's applied index once the followed node is there
# too, and all nodes are there (tried for 20 s; a node that stayed behind is named, and the comparison fails).
HASHES="not compared (not caught up)"
HASH_OK=1
if [ -n "$CAUGHT" ]; then
  HASHES="not compared (the $MODE node's applied index kept differing from the leader's)"
  for try in $(seq 1 20); do
    declare -A STATE=()
    for n in "${ALL[@]}"; do STATE[$n]=$(curl -s --max-time 30 "$(url "$n")/v1/cluster/state" | jq -r '"\(.appliedIndex) \(.stateHash)"' 2>/dev/null || echo "- -"); done
    at=${STATE[$leader_now]%% *}
    if [[ $at =~ ^[0-9]+$ ]] && [ "${STATE[$WIPE]%% *}" = "$at" ]; then
      same=(); behind=(); hashes=""
      for n in "${ALL[@]}"; do
        if [ "${STATE[$n]%% *}" = "$at" ]; then same+=("$n"); hashes+="${STATE[$n]#* }"$'\n'; else behind+=("$n at ${STATE[$n]%% *}"); fi
      done
      if [ "${#behind[@]}" -gt 0 ] && [ "$try" -lt 20 ]; then sleep 1; continue; fi
      if [ "$(printf '%s' "$hashes" | sort -u | wc -l)" = 1 ]; then HASHES="equal on ${same[*]} at applied index $at: ${STATE[$leader_now]#* }"
      else HASHES="DIFFERENT at applied index $at: $(for n in "${same[@]}"; do printf '%s %s; ' "$n" "${STATE[$n]#* }"; done)"; HASH_OK=0; fi
      if [ "${#behind[@]}" -gt 0 ]; then HASHES+="; NOT at that index: ${behind[*]}"; HASH_OK=0; fi
      break
    fi
    sleep 1
  done
  [[ $HASHES == "not compared"* ]] && HASH_OK=0
fi
p() { jq -er "\"p50 \(.P50Ms) ms, p99 \(.P99Ms) ms (\(.Operations) pairs in \(.MeasuredSeconds // .Seconds) s, \(.Errors) errors)\"" "$1" 2>/dev/null || echo "no result"; }
# Leader changes since the wipe: any node that lost its leader, and any new leader a surviving node saw
# (the wiped node's first "Leader changed to <leader>" on joining is not a change).
CHANGES=0
declare -A RETRY NONE CHANGED
for n in "${ALL[@]}"; do
  RETRY[$n]=$(count_since "$n" "$RETRY_PATTERN")
  NONE[$n]=$(count_since "$n" "Leader changed to (none)")
  CHANGED[$n]=$(count_since "$n" "Leader changed to")
  CHANGES=$((CHANGES + NONE[$n]))
  [ "$n" != "$WIPE" ] && CHANGES=$((CHANGES + CHANGED[$n] - NONE[$n]))
done
SINCE=$([ "$MODE" = behind ] && echo restart || echo "$MODE")
{
  if [ "$MODE" = join ]; then echo "==== summary: large table, $WIPE joined through $THROUGH ===="
  elif [ "$MODE" = behind ]; then echo "==== summary: large table, $WIPE restarted with its log behind the leader's snapshot ===="
  else echo "==== summary: large table, $WIPE wiped ===="; fi
  echo "servers:              $(cd "$CLUSTER_DIR" && git rev-parse --short HEAD)${REV:+ (REV=$REV)}"
  if [ "$MODE" = behind ]; then
    echo "locks:                $TAKEN granted EX locks of $LOCKS asked: $FIRST before the kill (fill $(json_field "$OUT/fill.json" Seconds) s, $(json_field "$OUT/fill.json" Errors) errors), $SECOND with $WIPE down (fill2 $(json_field "$OUT/fill2.json" Seconds) s, $(json_field "$OUT/fill2.json" Errors) errors), 2 x $SESSIONS sessions"
    echo "behind:               $WIPE killed at applied index $BEHIND_APPLIED (its newest snapshot ${BEHIND_SNAPSHOT:-none}), restarted with that data"
  else
    echo "locks:                $TAKEN granted EX locks of $LOCKS asked, $SESSIONS sessions, fill $(json_field "$OUT/fill.json" Seconds) s, $(json_field "$OUT/fill.json" Errors) errors"
  fi
  echo "snapshot:             $(awk 'NF == 2 { printf "%s on the leader, %d bytes (%.1f MB)", $1, $2, $2 / 1e6; found = 1 } END { if (!found) printf "none yet" }' <<<"$SNAPSHOT")"
  echo "leader:               $LEADER$([ "$leader_now" != "$LEADER" ] && echo ", $leader_now at the end")"
  if [ "$MODE" = join ]; then
    echo "join:                 listed as a learner at ${LEARNER_AT:-never} s, as a voter at ${VOTER_AT:-never} s; applied index within $TOLERANCE of the leader's commit index at ${APPLIED_AT:-never} s (from the start of $WIPE's process)${JOIN_EXIT:+; $WIPE exited with code $JOIN_EXIT}"
  elif [ -n "$CAUGHT" ]; then echo "catch-up:             $CAUGHT s (applied index within $TOLERANCE of the leader's commit index)"
  else echo "catch-up:             did not catch up within $MAX_WAIT s"; fi
  echo "leader latency, rest:     $(p "$OUT/rest.json")"
  echo "leader latency, catch-up: $(p "$OUT/catchup.json")"
  # The same window second by second (the load generator's timeline), to tell the node's absence and start from
  # the catch-up itself: the p99 of each second, with the seconds in which its process started and it caught up.
  python3 - "$OUT/catchup.json" "$OUT/catchup-timeline.csv" "$T0" "$END_MS" <<'PY' 2>/dev/null || echo "leader p99 by second:     no timeline"
import datetime, json, sys
result = json.loads(open(sys.argv[1]).readline())
rows = [line.strip().split(",") for line in open(sys.argv[2])][1:]
start = datetime.datetime.fromisoformat(result["MeasuredFromUtc"]).timestamp() * 1000
started, ended = (int(sys.argv[3]) - start) // 1000, (int(sys.argv[4]) - start) // 1000
ended = min(ended, len(rows) - 1)  # the load generator leaves out the last second it cut short
cells = [f"{float(r[3]):.1f}" + ("[start]" if int(r[0]) == started else "") + ("[end]" if int(r[0]) == ended else "") for r in rows]
print(f"leader p99 by second:     {' '.join(cells)} ms (from {result['MeasuredFromUtc'][11:23]} UTC; [start]: the node's process found, [end]: caught up)")
PY
  echo "server CPU in the $WINDOW_S s after the $([ "$MODE" = join ] && echo start || echo restart):$CPU_USED"
  echo "log lines since the $SINCE at $WIPED_AT UTC:"
  for n in "${ALL[@]}"; do
    echo "  $n$([ "$n" = "$LEADER" ] && echo ' (leader)')$([ "$n" = "$WIPE" ] && echo " ($(case $MODE in behind) echo behind ;; *) echo "${MODE%e}ed" ;; esac))"): '$RETRY_PATTERN' ${RETRY[$n]}$(awk -v c="${RETRY[$n]}" -v s="$WINDOW_S" 'BEGIN { if (c > 0 && s > 0) printf " (%.1f/s)", c / s }'), 'Leader changed to (none)' ${NONE[$n]}, 'Leader changed to' ${CHANGED[$n]}, 'too far behind' $(count_since "$n" "too far behind"), snapshot restored $(count_since "$n" "restored ("), timeouts $(count_since "$n" "timeout\|timed out" -i)"
  done
  echo "$MODE node's log since the $SINCE (first lines on snapshots, joining, leaders, timeouts):"
  since_wipe "$WIPE" | grep -i -e "snapshot" -e "Leader changed" -e "timeout" -e "timed out" -e "join" | grep -v "Joining: applied" | head -12 | cut -c1-240 | sed 's/^/  /'
  echo "leader's log since the $SINCE (first and last 'Replication ... failed' lines):"
  since_wipe "$LEADER" | { grep "Replication of" || true; } | sed -n '1p;$p' | cut -c1-200 | sed 's/^/  /'
  echo "final indexes:"
  for n in "${ALL[@]}"; do read -r c a l <<<"$(view "$n")"; echo "  $n: applied $a, commit $c, leader $l"; done
  echo "state hashes:         $HASHES"
} >"$OUT/summary.txt"
cat "$OUT/summary.txt"

# --- g. verdict -------------------------------------------------------------------------------------------
if [ -n "$CAUGHT" ] && [ "$CHANGES" = 0 ] && [ "$leader_now" = "$LEADER" ] && [ "$HASH_OK" = 1 ]; then
  echo "PASS: $WIPE $([ "$MODE" = join ] && echo "joined (a voter at $VOTER_AT s) and ")caught up in $CAUGHT s with no leader change" | tee -a "$OUT/summary.txt"
  exit 0
fi
echo "FAIL: $([ -n "$CAUGHT" ] || echo "no catch-up within $MAX_WAIT s; ")$CHANGES leader change(s) in the logs; leader $LEADER -> $leader_now; hashes: $HASHES" | tee -a "$OUT/summary.txt"
exit 1
