#!/usr/bin/env bash
# Side-by-side benchmark: a 3-member etcd and a 3-node Raft DLM cluster on this machine (loopback, fsync
# on), the same scenarios against both in alternation (A B A B), then a table with ours/etcd ratios.
#   scripts/compare-etcd.sh [seconds-per-run]      (default 10)
# Both clusters first take 20 s of unmeasured uncontended load and 10 s of contended (the .NET servers compile
# the hot paths of each scenario in its first seconds), and each run has 3 s of unmeasured warm-up for the
# load generator's own process. Each result also gives the servers' CPU time and the disk's write and flush
# requests per operation.
# First prints what a thread wake-up costs on this machine (scripts/wakeup-probe.py: across two CPUs and on one).
# Installs etcd from the OS packages when it is missing. Results: ./data/compare/results.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
export RAFTDLM_DATA=./data
OUT=./data/compare
ETCD_DATA=./data/etcd
mkdir -p "$OUT" "$ETCD_DATA"

if ! command -v etcd >/dev/null 2>&1; then
  echo "installing etcd-server from the OS packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
fi

ETCD_CLUSTER="e1=http://127.0.0.1:2380,e2=http://127.0.0.1:22380,e3=http://127.0.0.1:32380"
start_etcd() {
  local name=$1 client=$2 peer=$3
  rm -rf "${ETCD_DATA:?}/$name"
  nohup etcd --name "$name" --data-dir "$ETCD_DATA/$name" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$ETCD_CLUSTER" --initial-cluster-state new --initial-cluster-token raftdlm-bench \
    --log-level warn >"$ETCD_DATA/$name.log" 2>&1 &
  echo $! >"$ETCD_DATA/$name.pid"
}
stop_all() {
  local name pid
  for name in e1 e2 e3; do
    if [ -f "$ETCD_DATA/$name.pid" ]; then
      pid=$(cat "$ETCD_DATA/$name.pid")
      kill "$pid" 2>/dev/null || true
      # A member still on its ports would make the next run's member fail to start.
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$ETCD_DATA/$name.pid"
    fi
  done
  scripts/local-cluster.sh stop >/dev/null 2>&1 || true
}
trap stop_all EXIT

stop_all
rm -rf ./data/node1 ./data/node2 ./data/node3
start_etcd e1 2379 2380
start_etcd e2 22379 22380
start_etcd e3 32379 32380
scripts/local-cluster.sh start >/dev/null
for port in 2379 22379 32379; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
  curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 || { echo "etcd on port $port is not healthy: see $ETCD_DATA/*.log" >&2; exit 1; }
done
# What a thread wake-up costs here right now (docs/benchmarks.md, "What a wake-up costs on this machine").
command -v python3 >/dev/null 2>&1 && python3 scripts/wakeup-probe.py 20000 | sed 's/^/machine: /' || true

dotnet build -c Release -nologo -v quiet bench/LoadGenerator >/dev/null
LOADGEN="dotnet bench/LoadGenerator/bin/Release/net10.0/RaftDlm.LoadGenerator.dll"
OURS="http://127.0.0.1:7710,http://127.0.0.1:7720,http://127.0.0.1:7730"
ETCD="http://127.0.0.1:2379,http://127.0.0.1:22379,http://127.0.0.1:32379"
OURS_PIDS=$(cat ./data/node1.pid),$(cat ./data/node2.pid),$(cat ./data/node3.pid)
ETCD_PIDS=$(cat "$ETCD_DATA/e1.pid"),$(cat "$ETCD_DATA/e2.pid"),$(cat "$ETCD_DATA/e3.pid")
# The block device both clusters write to (they share ./data): /dev/vda1 -> vda1.
DISK=$(basename "$(df --output=source ./data | tail -1)")
grep -qw "$DISK" /proc/diskstats || DISK=""
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"
run() { # target endpoints scenario workers [extra]
  local pids=$OURS_PIDS
  [ "$1" = etcd ] && pids=$ETCD_PIDS
  $LOADGEN "$3" --target "$1" --endpoints "$2" --workers "$4" --seconds "$SECONDS_PER_RUN" --pids "$pids" \
    ${DISK:+--disk "$DISK"} "${@:5}" | tee -a "$RESULTS"
}
echo "warming both clusters up (20 s uncontended and 10 s contended each, not measured)"
for target in raft-dlm etcd; do
  endpoints=$OURS
  [ "$target" = etcd ] && endpoints=$ETCD
  $LOADGEN uncontended --target "$target" --endpoints "$endpoints" --workers 8 --seconds 20 --warmup 0 >/dev/null
  $LOADGEN contended --target "$target" --endpoints "$endpoints" --workers 32 --seconds 10 --warmup 0 >/dev/null
done
for round in 1 2; do
  for spec in "uncontended 1" "uncontended 8" "uncontended 32" "contended 32"; do
    set -- $spec
    run raft-dlm "$OURS" "$1" "$2"
    run etcd "$ETCD" "$1" "$2"
  done
  run raft-dlm "$OURS" sessions 16 --sessions 10000
  run etcd "$ETCD" sessions 16 --sessions 10000
done
$LOADGEN report "$RESULTS" --svg "$OUT/chart.svg"
echo "chart: $OUT/chart.svg"
