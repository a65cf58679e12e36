#!/usr/bin/env bash
# The project's test command (the README's quick start): build once in Release, then run every test
# project one at a time (each starts its own server processes; two cores do not take two clusters well).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build Raft.sln -c Release -nologo -v quiet
dotnet test Raft.sln -c Release --no-build -nologo -m:1 --logger "console;verbosity=normal" "$@"
