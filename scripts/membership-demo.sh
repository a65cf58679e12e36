#!/usr/bin/env bash
# The day-2 membership scenario end to end, on a 3-node cluster from scripts/local-cluster.sh under a lock
# workload: node4 joins (--join) and becomes a voter, node1 is removed while it leads, node5 joins; then
# `dlmctl member list` shows node2..node5.
#
# The workload is one session's writer: it holds an NL lock on "counter" and, round after round, converts it
# to EX and back to NL writing the round's number into the LVB. Every call carries a requestId and is retried
# with it on a retriable answer (503, 504 or no answer), on the next member, so a round is applied once. At
# the end the counter's LVB must be the last acknowledged round and its lvbSeq the number of acknowledged
# rounds (nothing acknowledged lost, nothing applied twice), and every answer that was not a success must
# have been 503 or 504.
#
#   scripts/membership-demo.sh            (RAFTDLM_BASE_PORT, default 9700; RAFTDLM_DATA, default ./data/membership-demo)
# Exit 0 when every check holds, 1 when one fails, 2 when the cluster could not be set up. Needs curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAFTDLM_BASE_PORT=${RAFTDLM_BASE_PORT:-9700}
export RAFTDLM_DATA=${RAFTDLM_DATA:-$PWD/data/membership-demo}
BASE=$RAFTDLM_BASE_PORT
OUT=$RAFTDLM_DATA
url() { echo "http://127.0.0.1:$((BASE + 10 * ${1#node}))"; }
CLUSTER=(node1 node2 node3 node4 node5)
DLMCTL=src/Cli/bin/Release/net10.0/dlmctl.dll

writer_pid=""
cleanup() {
  [ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null || true
  scripts/local-cluster.sh stop "${CLUSTER[@]}" >/dev/null 2>&1 || true
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
leader() {
  local n
  for n in "${CLUSTER[@]}"; do
    curl -sf --max-time 2 "$(url "$n")/v1/cluster" 2>/dev/null | jq -r '.leaderId // empty' && return 0
  done
  return 0
}
members() { curl -sf --max-time 2 "$(url "$1")/v1/cluster/members" | jq -r '[.members[] | "\(.id):\(.role)"] | join(" ")'; }

rm -rf "$OUT"
mkdir -p "$OUT"
dotnet build -c Release -nologo -v quiet src/Cli >"$OUT/build.log" 2>&1 || { echo "dlmctl build failed (see $OUT/build.log)" >&2; exit 2; }
scripts/local-cluster.sh start >"$OUT/start.log" 2>&1 || { cat "$OUT/start.log" >&2; exit 2; }
for _ in $(seq 1 100); do [ -n "$(leader)" ] && break; sleep 0.2; done
[ -n "$(leader)" ] || { echo "no leader" >&2; exit 2; }
echo "cluster up, leader $(leader)"

# The writer (a subshell in the background): answers go to $OUT/answers, acknowledged rounds to $OUT/acked.
call() { # method path body -> prints "status body", tries each node of the cluster in turn on a retriable answer
  local method=$1 path=$2 body=$3 attempt n status reply
  for attempt in $(seq 0 299); do
    n=${CLUSTER[$((attempt % ${#CLUSTER[@]}))]}
    reply=$(curl -s --max-time 10 -o - -w '\n%{http_code}' -X "$method" -H 'content-type: application/json' \
      -d "$body" "$(url "$n")$path" 2>/dev/null || true)
    status=${reply##*$'\n'}
    echo "$status" >>"$OUT/answers"
    case "$status" in
      2??) echo "${reply%$'\n'*}"; return 0 ;;
      503|504|000) sleep 0.2 ;;
      *) echo "unexpected $status from $n for $method $path: ${reply%$'\n'*}" >>"$OUT/unexpected"; return 1 ;;
    esac
  done
  return 1
}
writer() {
  call PUT /v1/lockspaces/demo '{"lvbBytes":8}' >/dev/null || exit 1
  local session lock i request=0 lvb
  session=$(call POST /v1/sessions '{"name":"demo-writer","ttlMs":60000}' | jq -r .sessionId) || exit 1
  lock=$(call POST /v1/lockspaces/demo/locks "{\"sessionId\":\"$session\",\"resource\":\"counter\",\"mode\":\"NL\",\"requestId\":1}" | jq -r .lockId) || exit 1
  echo "$session $lock" >"$OUT/writer.ids"
  for ((i = 1; ; i++)); do
    [ -f "$OUT/stop" ] && exit 0
    call POST "/v1/sessions/$session/keepalive" '{}' >/dev/null || exit 1
    request=$((request + 2))
    call POST "/v1/lockspaces/demo/locks/$lock/convert" "{\"mode\":\"EX\",\"waitMs\":5000,\"requestId\":$request}" >/dev/null || exit 1
    lvb=$(printf '%016x' "$i" | sed 's/\(..\)/\1 /g' | awk '{ for (k = NF; k >= 1; k--) printf "%s", $k }' | xxd -r -p | base64)
    call POST "/v1/lockspaces/demo/locks/$lock/convert" "{\"mode\":\"NL\",\"lvb\":\"$lvb\",\"requestId\":$((request + 1))}" >/dev/null || exit 1
    echo "$i" >>"$OUT/acked"
  done
}
: >"$OUT/answers"
writer & writer_pid=$!
sleep 3

step() { echo; echo "== $*"; }
step "add node4 (--join), a learner until it has caught up"
scripts/local-cluster.sh add node4
echo "members: $(members node2)"

# node1 must lead when it is removed: restart the leader until node1 wins an election (bounded).
for _ in $(seq 1 15); do
  l=$(leader)
  [ "$l" = node1 ] && break
  [ -n "$l" ] && scripts/local-cluster.sh restart "$l" >/dev/null
  sleep 2
done
[ "$(leader)" = node1 ] || fail "node1 did not become the leader"
step "remove node1 while it leads"
scripts/local-cluster.sh remove node1
for _ in $(seq 1 100); do l=$(leader); [ -n "$l" ] && [ "$l" != node1 ] && break; sleep 0.2; done
echo "new leader: $(leader)"

step "add node5"
scripts/local-cluster.sh add node5
sleep 2
touch "$OUT/stop"
wait "$writer_pid" || fail "the writer stopped on an unexpected answer: $(cat "$OUT/unexpected" 2>/dev/null)"
writer_pid=""

step "dlmctl member list"
RAFTDLM_ENDPOINTS="$(url node2),$(url node3)" dotnet "$DLMCTL" member list

step "checks"
acked=$(wc -l <"$OUT/acked")
last=$(tail -1 "$OUT/acked")
resource=$(curl -sf "$(url node2)/v1/lockspaces/demo/resources/counter")
value=$(echo "$resource" | jq -r .lvb | base64 -d | od -An -t u8 | tr -d ' ')
seq=$(echo "$resource" | jq -r .lvbSeq)
echo "rounds acknowledged: $acked (last $last); counter LVB $value, lvbSeq $seq"
echo "answers: $(sort "$OUT/answers" | uniq -c | tr '\n' ' ')"
[ "$value" = "$last" ] || fail "the counter is $value, the last acknowledged round $last"
[ "$seq" = "$acked" ] || fail "lvbSeq $seq for $acked acknowledged rounds"
! grep -qv -E '^(2[0-9][0-9]|503|504|000)$' "$OUT/answers" || fail "answers other than 2xx, 503, 504: $(grep -v -E '^(2..|503|504|000)$' "$OUT/answers" | sort | uniq -c)"
[ "$(members node2)" = "node2:voter node3:voter node4:voter node5:voter" ] || fail "members: $(members node2)"
same=""
for _ in $(seq 1 100); do
  states=$(for n in node2 node3 node4 node5; do curl -s --max-time 2 "$(url "$n")/v1/cluster/state"; echo; done)
  [ "$(echo "$states" | sort -u | wc -l)" = 1 ] && { same=$states; break; }
  sleep 0.2
done
[ -n "$same" ] || fail "replicas differ: $states"
echo "every member at $(echo "$same" | head -1)"
echo "PASS"
