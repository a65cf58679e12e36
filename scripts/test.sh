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
# New data directories get the segmented log; one created before it keeps DotNext's write-ahead log, so the
# consensus layer's process-level tests run once more on that one.
RAFTDLM_LogEngine=DotNext dotnet test tests/Consensus.Tests/Consensus.Tests.csproj -c Release --no-build -nologo --logger "console;verbosity=minimal" "$@"
# The client library as a NuGet package, with the commit (and the remote, when there is one) it was built from.
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
remote=$(git config --get remote.origin.url 2>/dev/null || true)
dotnet pack src/Client/Client.csproj -c Release --no-build -nologo -v quiet -o artifacts -p:RepositoryCommit="$commit" ${remote:+-p:RepositoryUrl="$remote"}
echo "packed: $(ls artifacts/RaftDlm.Client.*.nupkg)"
if [ "${SKIP_JEPSEN:-0}" != 1 ]; then
  bash scripts/jepsen-quick.sh "${JEPSEN_SEED:-1}"
fi
