#!/usr/bin/env bash
# A full-load run with frequent snapshots and its verdict: a fresh 3-node cluster (scripts/local-cluster.sh)
# under ./data/full-load on ports RAFTDLM_BASE_PORT+10.. (default 9100: 9110/9111, 9120/9121, 9130/9131) with
# a snapshot every RAFTDLM_SnapshotEveryEntries entries (default 5,000), 20 s of unmeasured warm-up, then the
# `uncontended` scenario for the given seconds with a per-second timeline. Any other RAFTDLM_* setting is
# passed to the servers (e.g. RAFTDLM_LogEngine=DotNext).
#   scripts/full-load.sh [seconds=600] [workers=32]
# The verdict gives the pairs, pairs/s, p50/p99, server CPU per pair, the snapshots each node took, the slow
# syncs (event 7150) and the leader changes each node logged after the warm-up, and the median and the lowest
# second of the timeline. Exit 0 only when no node logged a leader change after the warm-up and no second
# completed fewer than half the median second's pairs; else exit 1 naming what failed (2: the run itself did
# not complete).
# Results: ./data/full-load/result.json (the load generator's line), timeline.csv, nodeN.log.
# Benchmarks share the machine: run one at a time, e.g. flock ./data/bench.lock scripts/full-load.sh 600.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-600}
WORKERS=${2:-32}
WARMUP_SECONDS=20
[[ $SECONDS_TO_RUN =~ ^[1-9][0-9]*$ && $WORKERS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [seconds=600] [workers=32]" >&2; exit 2; }
# The load generator's sessions live an hour (FillScenarios.MaxTtlMs) and send no keep-alives.
if [ "$SECONDS_TO_RUN" -gt 3000 ]; then echo "at most 3000 s: the load generator's sessions expire after an hour" >&2; exit 2; fi

export RAFTDLM_DATA=./data/full-load
export RAFTDLM_BASE_PORT=${RAFTDLM_BASE_PORT:-9100}
export RAFTDLM_SnapshotEveryEntries=${RAFTDLM_SnapshotEveryEntries:-5000}
DATA=$RAFTDLM_DATA
BASE=$RAFTDLM_BASE_PORT
ENDPOINTS="http://127.0.0.1:$((BASE + 10)),http://127.0.0.1:$((BASE + 20)),http://127.0.0.1:$((BASE + 30))"

scripts/local-cluster.sh stop >/dev/null 2>&1 || true   # a cluster an earlier run of this script left behind
rm -rf "$DATA"
mkdir -p "$DATA"
dotnet build -c Release -nologo -v quiet bench/LoadGenerator >"$DATA/loadgen-build.log" 2>&1 || { cat "$DATA/loadgen-build.log" >&2; exit 2; }
LOADGEN=(dotnet bench/LoadGenerator/bin/Release/net10.0/RaftDlm.LoadGenerator.dll)

stop_cluster() { scripts/local-cluster.sh stop || true; }
trap stop_cluster EXIT
scripts/local-cluster.sh start
pids=$(cat "$DATA/node1.pid"),$(cat "$DATA/node2.pid"),$(cat "$DATA/node3.pid")
DISK=$(basename "$(df --output=source "$DATA" | tail -1)")
grep -qw "$DISK" /proc/diskstats || DISK=""

echo "warm-up: ${WARMUP_SECONDS} s unmeasured ($WORKERS workers)"
timeout --signal=TERM $((WARMUP_SECONDS + 120)) \
  "${LOADGEN[@]}" uncontended --endpoints "$ENDPOINTS" --workers "$WORKERS" --seconds "$WARMUP_SECONDS" --warmup 0 >/dev/null
# Log lines so far: leader changes are counted after these.
for n in 1 2 3; do wc -l <"$DATA/node$n.log" >"$DATA/node$n.warm-up-lines"; done

echo "measured: uncontended, $WORKERS workers, $SECONDS_TO_RUN s (+3 s unmeasured), snapshot every $RAFTDLM_SnapshotEveryEntries entries, pids $pids${DISK:+, disk $DISK}"
status=0
# The load generator ends the window itself; SIGTERM (only if it overran by 2 minutes) ends it early too.
timeout --signal=TERM $((SECONDS_TO_RUN + 3 + 120)) \
  "${LOADGEN[@]}" uncontended --endpoints "$ENDPOINTS" --workers "$WORKERS" --seconds "$SECONDS_TO_RUN" \
  --pids "$pids" ${DISK:+--disk "$DISK"} --timeline "$DATA/timeline.csv" >"$DATA/result.json" || status=$?
cat "$DATA/result.json"
if [ "$status" -ne 0 ] || [ ! -s "$DATA/timeline.csv" ]; then echo "FAIL: the load generator did not complete (exit $status)" >&2; exit 2; fi

set +e
python3 - "$DATA" <<'PY'
import datetime, json, statistics, sys
data = sys.argv[1]
result = json.loads(open(f"{data}/result.json").readline())
rows = [line.strip().split(",") for line in open(f"{data}/timeline.csv")][1:]
ops = [int(r[1]) for r in rows]
errors = [int(r[2]) for r in rows]
start = datetime.datetime.fromisoformat(result["MeasuredFromUtc"])
def clock(second):  # the servers' log time (local)
    return (start + datetime.timedelta(seconds=second)).astimezone().strftime("%H:%M:%S")
print(f"pairs: {result['Operations']} in {result['MeasuredSeconds']} s, {result['OpsPerSecond']:.0f} pairs/s, "
      f"p50 {result['P50Ms']} ms, p99 {result['P99Ms']} ms, errors {result['Errors']}")
cpu = result.get("ServerCpuMsPerOp")
flushes = result.get("DiskFlushesPerOp")
print(f"server CPU ms/pair: {cpu if cpu is not None else 'n/a'}, disk flushes/pair: {flushes if flushes is not None else 'n/a'}")
failed = []
snapshots, changes, nones, stalls = [], [], [], []
for n in (1, 2, 3):
    lines = open(f"{data}/node{n}.log", errors="replace").read().splitlines()
    skip = int(open(f"{data}/node{n}.warm-up-lines").read())
    snapshots.append(sum("Snapshot taken at index" in line for line in lines))
    after = lines[skip:]
    changes.append(sum("Leader changed to " in line for line in after))
    nones.append(sum("Leader changed to (none)" in line for line in after))
    stalls.append([line[:12] + " " + line.split("took ", 1)[1].split(" ms", 1)[0] + " ms"
                   for line in after if "[7150]" in line and "took " in line])
print("snapshots taken: " + ", ".join(f"node{n} {c}" for n, c in zip((1, 2, 3), snapshots)))
# Syncs of 100 ms or more (event 7150): a disk stall, the likeliest cause of a slow second or a lost leader.
print("slow syncs after the warm-up: " + ", ".join(
    f"node{n} {len(s)}" + (f" ({'; '.join(s[:5])}{' …' if len(s) > 5 else ''})" if s else "") for n, s in zip((1, 2, 3), stalls)))
print("leader changes after the warm-up ('Leader changed to (none)' / any 'Leader changed to'): "
      + ", ".join(f"node{n} {a}/{b}" for n, a, b in zip((1, 2, 3), nones, changes)))
if any(changes):
    failed.append(f"leader changes after the warm-up: {sum(changes)} log lines")
median = statistics.median(ops)
lowest = min(range(len(ops)), key=lambda s: ops[s])
print(f"timeline: {len(ops)} s, median second {median:g} pairs, lowest second {lowest} ({clock(lowest)}) {ops[lowest]} pairs"
      f" ({ops[lowest] / median:.0%} of the median), seconds with errors {sum(e > 0 for e in errors)}")
below = [s for s in range(len(ops)) if ops[s] < median / 2]
if below:
    shown = ", ".join(f"{s} ({clock(s)}): {ops[s]}" for s in below[:10])
    failed.append(f"{len(below)} second(s) below half the median ({median / 2:g}): {shown}{' …' if len(below) > 10 else ''}")
if failed:
    for reason in failed: print("FAIL: " + reason)
    sys.exit(1)
print("PASS: no leader change after the warm-up, no second below half the median")
PY
verdict=$?
exit $verdict
