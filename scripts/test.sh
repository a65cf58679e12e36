#!/usr/bin/env bash
# The project's test command (the README's quick start calls it): build once, then run every test project.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build Raft.sln -c Release -nologo -v quiet
dotnet test Raft.sln -c Release --no-build -nologo -v quiet --logger "console;verbosity=normal" "$@"
