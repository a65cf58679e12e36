#!/usr/bin/env bash
# Quick pass of the Jepsen-style suite: every workload once with every nemesis, short runs; then mutex,
# fenced-store and lvb-counter once more with the membership nemesis (nodes added with --join, a follower and
# the leader removed, a node replaced by a fresh one under a new id).
# Exits non-zero if any run finds a violation, if the expected-to-fail workload (unfenced-store) does
# NOT report its violation (nor client-store-no-deadline its double holder), if a run errors, or if the replicas' snapshot digests or apply traces differ
# at any point of a run (tests/Jepsen-style/compare-replicas.sh). Bounded: each run has a hard timeout.
# Usage: scripts/jepsen-quick.sh [seed]   (TIME_LIMIT=seconds per run, default 45: room for one fault of
# each of the six kinds, which come round-robin; NODES=3|5)
set -uo pipefail
cd "$(dirname "$0")/.."
seed="${1:-${SEED:-1}}"
time_limit="${TIME_LIMIT:-45}"
nodes="${NODES:-3}"
nemeses="kill,pause,partition,restart-all,restart-all-crash,wipe"
# "workload@membership" runs the workload with the membership nemesis alone.
workloads=(mutex fenced-store unfenced-store lvb-counter modes sessions client-store client-store-no-deadline
  mutex@membership fenced-store@membership lvb-counter@membership)
# The client-library workloads are about the client side: a client paused, or cut from every node, while it
# holds the lock (25 s: one of each). client-store-no-deadline is expected to fail (the double holder).
client_nemeses="pause,client-partition"
client_time_limit="${CLIENT_TIME_LIMIT:-25}"
out_root="tests/Jepsen-style/runs/quick-$(date -u +%Y%m%d-%H%M%S)"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build tests/Jepsen-style -c Release -nologo -v quiet >/dev/null || { echo "build failed" >&2; exit 2; }
sync # the build's writeback would stall the nodes' syncs half a minute in (scripts/local-cluster.sh says more)
runner="tests/Jepsen-style/bin/Release/net10.0/RaftDlm.Jepsen.dll"
mkdir -p "$out_root"

failed=()
start=$SECONDS
for run in "${workloads[@]}"; do
  begin=$SECONDS
  workload="${run%@*}"
  run_nemeses="$nemeses"; run_time="$time_limit"
  case "$workload" in client-*) run_nemeses="$client_nemeses"; run_time="$client_time_limit" ;; esac
  [[ "$run" == *@* ]] && run_nemeses="${run#*@}"
  # SIGINT first, so the runner's cleanup (processes by pid, namespaces) runs; SIGKILL 30 s later.
  timeout -s INT -k 30 $((run_time + 150)) dotnet "$runner" --workload "$workload" --nemesis "$run_nemeses" \
    --time-limit "$run_time" --seed "$seed" --nodes "$nodes" --out "$out_root/${run/@/-}-$seed" > "$out_root.${run/@/-}.log" 2>&1 \
    || true
  log="$out_root.${run/@/-}.log"
  verdict=$(grep -h "verdict:" "$log" | tail -1 | sed 's/.*verdict: //')
  if [[ "$verdict" == PASS* ]] && ! tests/Jepsen-style/compare-replicas.sh "$out_root/${run/@/-}-$seed" >> "$log" 2>&1; then
    verdict="FAIL: replicas differed during the run (compare-replicas.sh, see $log)"
  fi
  printf '%-26s %4ss  %s\n' "$run" $((SECONDS - begin)) "${verdict:-no verdict (see $log)}"
  case "$verdict" in PASS*) ;; *) failed+=("$run") ;; esac
done
echo "quick pass: $((SECONDS - start)) s, results under $out_root"
if ((${#failed[@]} > 0)); then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all workloads passed (unfenced-store and client-store-no-deadline showed their expected violations)"
