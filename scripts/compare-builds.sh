#!/usr/bin/env bash
# A/B of two revisions of Raft DLM on this machine: each revision is cloned and built apart, then a 3-node
# cluster of each runs the same scenarios in alternation (A B A B …), one cluster up at a time, and a
# table gives per revision the medians of ops/s, p50/p99 and the costs per operation (servers' CPU ms,
# disk flushes). On this shared machine ops/s moves up to 2x between identical runs; judge a change by
# its cost per operation.
#   scripts/compare-builds.sh REV_A REV_B [rounds] [seconds-per-run]     (defaults: 3 rounds, 10 s)
# e.g. scripts/compare-builds.sh HEAD~5 HEAD. Results: ./data/builds/results.jsonl
# ENV_A / ENV_B: server settings for one side only, e.g. one build with two logs:
#   ENV_A="RAFTDLM_LogEngine=DotNext" ENV_B="RAFTDLM_LogEngine=Segmented" scripts/compare-builds.sh HEAD HEAD
# SCENARIOS: which runs each round makes, "scenario workers" separated by commas
#   (default "uncontended 1,uncontended 32,contended 32"), e.g. SCENARIOS="uncontended 1,uncontended 8"
set -euo pipefail
cd "$(dirname "$0")/.."
REV_A=${1:?usage: $0 REV_A REV_B [rounds] [seconds]}
REV_B=${2:?usage: $0 REV_A REV_B [rounds] [seconds]}
ROUNDS=${3:-3}
SECONDS_PER_RUN=${4:-10}
ROOT=$(pwd)
OUT=$ROOT/data/builds
mkdir -p "$OUT"

build() { # rev -> directory with a built server
  local rev=$1 sha dir
  sha=$(git rev-parse --short "$rev")
  dir=$OUT/$sha
  if [ ! -f "$dir/src/HttpApi/bin/Release/net10.0/RaftDlm.Server.dll" ]; then
    rm -rf "$dir"
    git clone -q "$ROOT" "$dir"
    git -C "$dir" checkout -q "$sha"
    dotnet build -c Release -nologo -v quiet "$dir/src/HttpApi" >/dev/null
  fi
  echo "$dir"
}
DIR_A=$(build "$REV_A")
DIR_B=$(build "$REV_B")
dotnet build -c Release -nologo -v quiet bench/LoadGenerator >/dev/null
LOADGEN="dotnet $ROOT/bench/LoadGenerator/bin/Release/net10.0/RaftDlm.LoadGenerator.dll"
ENDPOINTS="http://127.0.0.1:7710,http://127.0.0.1:7720,http://127.0.0.1:7730"
DISK=$(basename "$(df --output=source "$OUT" | tail -1)")
grep -qw "$DISK" /proc/diskstats || DISK=""
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

current=""
data=""
stop_current() { [ -n "$current" ] && RAFTDLM_DATA="$data" "$current/scripts/local-cluster.sh" stop >/dev/null 2>&1 || true; current=""; }
trap stop_current EXIT

ENV_A=${ENV_A:-}
ENV_B=${ENV_B:-}
SCENARIOS=${SCENARIOS:-uncontended 1,uncontended 32,contended 32}
for round in $(seq 1 "$ROUNDS"); do
  for side in A B; do
    if [ "$side" = A ]; then dir=$DIR_A settings=$ENV_A; else dir=$DIR_B settings=$ENV_B; fi
    label=$(basename "$dir")${settings:+ $settings}
    data=$OUT/data-$side
    rm -rf "$data"
    current=$dir
    # shellcheck disable=SC2086 # settings are NAME=value words
    env $settings RAFTDLM_DATA="$data" "$dir/scripts/local-cluster.sh" start >/dev/null
    pids=$(cat "$data/node1.pid"),$(cat "$data/node2.pid"),$(cat "$data/node3.pid")
    echo "round $round: $label (pids $pids), 30 s unmeasured warm-up"
    $LOADGEN uncontended --endpoints "$ENDPOINTS" --workers 8 --seconds 20 --warmup 0 >/dev/null
    $LOADGEN contended --endpoints "$ENDPOINTS" --workers 32 --seconds 10 --warmup 0 >/dev/null
    IFS=, read -ra specs <<< "$SCENARIOS"
    for spec in "${specs[@]}"; do
      # shellcheck disable=SC2086 # "scenario workers": two words
      set -- $spec
      $LOADGEN "$1" --endpoints "$ENDPOINTS" --workers "$2" --seconds "$SECONDS_PER_RUN" --pids "$pids" ${DISK:+--disk "$DISK"} \
        | sed "s/^{/{\"Build\":\"$label\",/" | tee -a "$RESULTS"
    done
    stop_current
  done
done

python3 - "$RESULTS" <<'PY'
import json, sys, statistics as st
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
keys = sorted({(r["Scenario"], r["Workers"]) for r in rows})
builds = list(dict.fromkeys(r["Build"] for r in rows))
print("| scenario | build | runs | ops/s | p50 ms | p99 ms | server CPU ms/op | disk flushes/op |")
print("|---|---|---|---|---|---|---|---|")
for scenario, workers in keys:
    for build in builds:
        runs = [r for r in rows if r["Build"] == build and r["Scenario"] == scenario and r["Workers"] == workers]
        med = lambda k: st.median([r[k] for r in runs if r.get(k) is not None]) if any(r.get(k) is not None for r in runs) else float("nan")
        print(f"| {scenario} {workers} | {build} | {len(runs)} | {med('OpsPerSecond'):.0f} | {med('P50Ms'):.2f} | {med('P99Ms'):.2f} | {med('ServerCpuMsPerOp'):.3f} | {med('DiskFlushesPerOp'):.2f} |")
PY
