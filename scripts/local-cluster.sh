#!/usr/bin/env bash
# A local 3-node Raft DLM cluster on 127.0.0.1: HTTP on 7710/7720/7730, Raft on 7711/7721/7731,
# data, logs and pid files under ./data/node1..3.
#   scripts/local-cluster.sh start|stop|status|restart [node]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${RAFTDLM_DATA:-./data}
NODES=(node1 node2 node3)
http_port() { echo $((7700 + 10 * ${1#node})); }
raft_port() { echo $((7701 + 10 * ${1#node})); }
MEMBERS=""
for n in "${NODES[@]}"; do
  MEMBERS+="${MEMBERS:+,}$n=127.0.0.1:$(raft_port "$n")=http://127.0.0.1:$(http_port "$n")"
done
SERVER=src/HttpApi/bin/Release/net10.0/RaftDlm.Server.dll

running() { [ -f "$DATA/$1.pid" ] && kill -0 "$(cat "$DATA/$1.pid")" 2>/dev/null; }

start_node() {
  local n=$1
  if running "$n"; then echo "$n already running (pid $(cat "$DATA/$n.pid"))"; return; fi
  mkdir -p "$DATA/$n"
  nohup dotnet "$SERVER" --node-id "$n" --http "http://127.0.0.1:$(http_port "$n")" \
    --raft "127.0.0.1:$(raft_port "$n")" --data "$DATA/$n" --members "$MEMBERS" \
    >>"$DATA/$n.log" 2>&1 &
  echo $! >"$DATA/$n.pid"
  echo "$n started (pid $!, http://127.0.0.1:$(http_port "$n"))"
}

stop_node() {
  local n=$1
  if running "$n"; then
    local pid; pid=$(cat "$DATA/$n.pid")
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "$n stopped"
  fi
  rm -f "$DATA/$n.pid"
}

status_node() {
  local n=$1 port; port=$(http_port "$n")
  if running "$n"; then
    echo "$n pid $(cat "$DATA/$n.pid"): $(curl -s --max-time 2 "http://127.0.0.1:$port/v1/cluster?stale=true" || echo 'not answering')"
  else
    echo "$n stopped"
  fi
}

cmd=${1:-status}
shift || true
targets=("${@:-${NODES[@]}}")
case "$cmd" in
  start)
    dotnet build -c Release -nologo -v quiet src/HttpApi >/dev/null
    for n in "${targets[@]}"; do start_node "$n"; done
    for _ in $(seq 1 100); do
      curl -sf --max-time 1 "http://127.0.0.1:$(http_port "${targets[0]}")/readyz" >/dev/null 2>&1 && break
      sleep 0.2
    done
    for n in "${targets[@]}"; do status_node "$n"; done ;;
  stop) for n in "${targets[@]}"; do stop_node "$n"; done ;;
  restart) for n in "${targets[@]}"; do stop_node "$n"; done; "$0" start "${targets[@]}" ;;
  status) for n in "${targets[@]}"; do status_node "$n"; done ;;
  *) echo "usage: $0 start|stop|status|restart [node1 node2 node3]" >&2; exit 2 ;;
esac
