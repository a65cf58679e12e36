#!/usr/bin/env bash
# What TLS costs: one 3-node cluster of this build (scripts/local-cluster.sh) started plain and with --tls
# (HTTPS on the API and between nodes, mutual TLS on Raft), in alternation (plain tls plain tls …), one
# cluster up at a time, the same load on each; a table gives the medians of ops/s, p50/p99 and the servers'
# CPU per operation. Runs on ports RAFTDLM_BASE_PORT (default 9700: 9710/9711, 9720/9721, 9730/9731) so it
# does not collide with a cluster on the default ports. The load generator trusts the throw-away CA through
# SSL_CERT_FILE (read by .NET on Linux).
#   scripts/compare-tls.sh [rounds] [seconds-per-run]     (defaults: 2 rounds, 10 s)
# Results: ./data/tls-bench/results.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
SECONDS_PER_RUN=${2:-10}
BASE=${RAFTDLM_BASE_PORT:-9700}
OUT=$(pwd)/data/tls-bench
mkdir -p "$OUT"
dotnet build -c Release -nologo -v quiet src/HttpApi >/dev/null
dotnet build -c Release -nologo -v quiet bench/LoadGenerator >/dev/null
LOADGEN="dotnet $(pwd)/bench/LoadGenerator/bin/Release/net10.0/RaftDlm.LoadGenerator.dll"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

data=""
stop_current() { [ -n "$data" ] && RAFTDLM_DATA=$data RAFTDLM_BASE_PORT=$BASE scripts/local-cluster.sh stop >/dev/null 2>&1 || true; data=""; }
trap stop_current EXIT

for round in $(seq 1 "$ROUNDS"); do
  for mode in plain tls; do
    data=$OUT/data-$mode
    rm -rf "$data"
    flag=""; scheme=http; trust=()
    if [ "$mode" = tls ]; then flag=--tls; scheme=https; fi
    RAFTDLM_DATA=$data RAFTDLM_BASE_PORT=$BASE scripts/local-cluster.sh start $flag >/dev/null
    if [ "$mode" = tls ]; then trust=(env SSL_CERT_FILE="$data/tls/ca.pem"); fi
    endpoints="$scheme://127.0.0.1:$((BASE + 10)),$scheme://127.0.0.1:$((BASE + 20)),$scheme://127.0.0.1:$((BASE + 30))"
    pids=$(cat "$data/node1.pid"),$(cat "$data/node2.pid"),$(cat "$data/node3.pid")
    echo "round $round: $mode (pids $pids), 10 s unmeasured warm-up"
    "${trust[@]}" $LOADGEN uncontended --endpoints "$endpoints" --workers 8 --seconds 10 --warmup 0 >/dev/null
    for spec in "uncontended 32" "uncontended 32 --any-node"; do
      # shellcheck disable=SC2086 # the spec's words are separate arguments
      set -- $spec
      any_node=false; [ -n "${3:-}" ] && any_node=true
      "${trust[@]}" $LOADGEN "$1" --endpoints "$endpoints" --workers "$2" ${3:-} --seconds "$SECONDS_PER_RUN" --pids "$pids" \
        | sed "s/^{/{\"Mode\":\"$mode\",\"AnyNode\":$any_node,/" | tee -a "$RESULTS"
    done
    stop_current
  done
done

python3 - "$RESULTS" <<'PY'
import json, sys, statistics as st
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
keys = sorted({(r["Scenario"], r["Workers"], r["AnyNode"]) for r in rows})
print("| scenario | sent to | mode | runs | ops/s | p50 ms | p99 ms | server CPU ms/op |")
print("|---|---|---|---|---|---|---|---|")
for scenario, workers, any_node in keys:
    for mode in ("plain", "tls"):
        runs = [r for r in rows if r["Mode"] == mode and r["Scenario"] == scenario and r["Workers"] == workers and r["AnyNode"] == any_node]
        if not runs: continue
        med = lambda k: st.median([r[k] for r in runs if r.get(k) is not None]) if any(r.get(k) is not None for r in runs) else float("nan")
        target = "every node (followers forward)" if any_node else "the leader"
        print(f"| {scenario} {workers} | {target} | {mode} | {len(runs)} | {med('OpsPerSecond'):.0f} | {med('P50Ms'):.2f} | {med('P99Ms'):.2f} | {med('ServerCpuMsPerOp'):.3f} |")
PY
