#!/usr/bin/env bash
# The project's test command (the README's quick start): build once in Release, run every test project
# one at a time (each starts its own server processes; two cores do not take two clusters well), then
# the quick pass of the Jepsen-style fault-injection suite (every workload with every nemesis).
#   bash scripts/test.sh            everything
#   SKIP_JEPSEN=1 bash scripts/test.sh   only the test projects
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build Raft.sln -c Release -nologo -v quiet
dotnet test Raft.sln -c Release --no-build -nologo -m:1 --logger "console;verbosity=normal" "$@"
if [ "${SKIP_JEPSEN:-0}" != 1 ]; then
  bash scripts/jepsen-quick.sh "${JEPSEN_SEED:-1}"
fi
