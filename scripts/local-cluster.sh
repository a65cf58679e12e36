#!/usr/bin/env bash
# A local 3-node Raft DLM cluster on 127.0.0.1: HTTP on 7710/7720/7730, Raft on 7711/7721/7731,
# data, logs and pid files under ./data/node1..3 (RAFTDLM_DATA moves the folder, RAFTDLM_BASE_PORT=8800
# moves the ports to 8810/8811, ...).
#   scripts/local-cluster.sh start [--tls]|stop|status|restart [node]
# RAFTDLM_SERVER=path/RaftDlm.Server.dll runs that build instead of building this checkout's (an upgrade,
# docs/operations.md: restart one node at a time with the new release's dll).
# start --tls makes a throw-away CA and one certificate per node under $DATA/tls (once) and runs HTTPS and
# mutual-TLS Raft; the cluster stays TLS (status, restart, start) until $DATA is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${RAFTDLM_DATA:-./data}
BASE=${RAFTDLM_BASE_PORT:-7700}
NODES=(node1 node2 node3)
TLS_DIR="$DATA/tls"
http_port() { echo $((BASE + 10 * ${1#node})); }
raft_port() { echo $((BASE + 1 + 10 * ${1#node})); }
tls_on() { [ -f "$TLS_DIR/ca.pem" ]; }
scheme() { if tls_on; then echo https; else echo http; fi; }
curl_tls() { if tls_on; then echo --cacert "$TLS_DIR/ca.pem"; fi; }
SERVER=${RAFTDLM_SERVER:-src/HttpApi/bin/Release/net10.0/RaftDlm.Server.dll}

# A CA (10 days) and, per node, a key and a certificate for 127.0.0.1/localhost usable by servers and clients.
make_certificates() {
  tls_on && return
  mkdir -p "$TLS_DIR"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 10 -subj "/CN=raft-dlm local CA" \
    -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem.tmp" 2>/dev/null
  for n in "${NODES[@]}"; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$n" \
      -keyout "$TLS_DIR/$n.key" -out "$TLS_DIR/$n.csr" 2>/dev/null
    openssl x509 -req -in "$TLS_DIR/$n.csr" -CA "$TLS_DIR/ca.pem.tmp" -CAkey "$TLS_DIR/ca.key" -CAcreateserial -days 10 \
      -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n') \
      -out "$TLS_DIR/$n.pem" 2>/dev/null
    rm -f "$TLS_DIR/$n.csr"
  done
  chmod 600 "$TLS_DIR"/*.key
  mv "$TLS_DIR/ca.pem.tmp" "$TLS_DIR/ca.pem"
  echo "certificates in $TLS_DIR (CA: $TLS_DIR/ca.pem)"
}

tls_arguments() {
  local n=$1
  tls_on || return 0
  echo --Kestrel:Certificates:Default:Path "$TLS_DIR/$n.pem" --Kestrel:Certificates:Default:KeyPath "$TLS_DIR/$n.key" \
    --TlsCaPath "$TLS_DIR/ca.pem" \
    --RaftTls:CertificatePath "$TLS_DIR/$n.pem" --RaftTls:KeyPath "$TLS_DIR/$n.key" --RaftTls:CaPath "$TLS_DIR/ca.pem"
}

members() {
  local list="" n
  for n in "${NODES[@]}"; do
    list+="${list:+,}$n=127.0.0.1:$(raft_port "$n")=$(scheme)://127.0.0.1:$(http_port "$n")"
  done
  echo "$list"
}

running() { [ -f "$DATA/$1.pid" ] && kill -0 "$(cat "$DATA/$1.pid")" 2>/dev/null; }

start_node() {
  local n=$1
  if running "$n"; then echo "$n already running (pid $(cat "$DATA/$n.pid"))"; return; fi
  mkdir -p "$DATA/$n"
  # shellcheck disable=SC2046 # the TLS arguments are paths without spaces under $DATA
  nohup dotnet "$SERVER" --node-id "$n" --http "$(scheme)://127.0.0.1:$(http_port "$n")" \
    --raft "127.0.0.1:$(raft_port "$n")" --data "$DATA/$n" --members "$(members)" $(tls_arguments "$n") \
    >>"$DATA/$n.log" 2>&1 &
  echo $! >"$DATA/$n.pid"
  echo "$n started (pid $!, $(scheme)://127.0.0.1:$(http_port "$n"))"
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
    # shellcheck disable=SC2046
    echo "$n pid $(cat "$DATA/$n.pid"): $(curl -s --max-time 2 $(curl_tls) "$(scheme)://127.0.0.1:$port/v1/cluster?stale=true" || echo 'not answering')"
  else
    echo "$n stopped"
  fi
}

cmd=${1:-status}
shift || true
want_tls=false
if [ "${1:-}" = "--tls" ]; then want_tls=true; shift; fi
targets=("${@:-${NODES[@]}}")
case "$cmd" in
  start)
    mkdir -p "$DATA"
    if $want_tls; then make_certificates; fi
    if [ -z "${RAFTDLM_SERVER:-}" ]; then dotnet build -c Release -nologo -v quiet src/HttpApi >/dev/null; fi
    [ -f "$SERVER" ] || { echo "no server at $SERVER" >&2; exit 2; }
    for n in "${targets[@]}"; do start_node "$n"; done
    for _ in $(seq 1 100); do
      # shellcheck disable=SC2046
      curl -sf --max-time 1 $(curl_tls) "$(scheme)://127.0.0.1:$(http_port "${targets[0]}")/readyz" >/dev/null 2>&1 && break
      sleep 0.2
    done
    for n in "${targets[@]}"; do status_node "$n"; done ;;
  stop) for n in "${targets[@]}"; do stop_node "$n"; done ;;
  restart) for n in "${targets[@]}"; do stop_node "$n"; done; "$0" start "${targets[@]}" ;;
  status) for n in "${targets[@]}"; do status_node "$n"; done ;;
  *) echo "usage: $0 start [--tls]|stop|status|restart [node1 node2 node3]" >&2; exit 2 ;;
esac
