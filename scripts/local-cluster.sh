#!/usr/bin/env bash
# A local Raft DLM cluster on 127.0.0.1: node N serves HTTP on 7700+10N and Raft on 7701+10N (node1..3 at
# first: 7710/7711, 7720/7721, 7730/7731), with data, log and pid file under ./data (./data/nodeN,
# ./data/nodeN.log, ./data/nodeN.pid). RAFTDLM_DATA moves the folder, RAFTDLM_BASE_PORT=8800 moves the ports
# (8810/8811, ...).
#   scripts/local-cluster.sh start [--tls]|stop|status|restart [node ...]
#   scripts/local-cluster.sh add nodeN       # a new member: starts it empty with --join, waits until it votes
#   scripts/local-cluster.sh remove nodeN    # removes it from the cluster through another member, then stops it
# The members are node1..3 until a node is added or removed; $DATA/nodes lists them after a change (the cluster
# itself stores its membership; this file only tells the script which nodes to start, stop and show).
# start/stop/status/restart without nodes act on every member (stop and status also on any other node still
# running). start --tls makes a throw-away CA and one certificate per node under $DATA/tls (once; an added node
# gets one when it is added) and runs HTTPS and mutual-TLS Raft; the cluster stays TLS until $DATA is removed.
# RAFTDLM_TOKEN (an admin token) is sent by add and remove; RAFTDLM_JOIN_TIMEOUT_MS (default 300000) bounds how
# long add waits for the new node to catch up.
# RAFTDLM_SERVER=path/RaftDlm.Server.dll runs that build instead of building this checkout's (an upgrade,
# docs/operations.md: restart one node at a time with the new release's dll).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${RAFTDLM_DATA:-./data}
BASE=${RAFTDLM_BASE_PORT:-7700}
JOIN_TIMEOUT_MS=${RAFTDLM_JOIN_TIMEOUT_MS:-300000}
NODES_FILE="$DATA/nodes"
TLS_DIR="$DATA/tls"
if [ -s "$NODES_FILE" ]; then mapfile -t NODES < "$NODES_FILE"; else NODES=(node1 node2 node3); fi
http_port() { echo $((BASE + 10 * ${1#node})); }
raft_port() { echo $((BASE + 1 + 10 * ${1#node})); }
tls_on() { [ -f "$TLS_DIR/ca.pem" ]; }
scheme() { if tls_on; then echo https; else echo http; fi; }
curl_tls() { if tls_on; then echo --cacert "$TLS_DIR/ca.pem"; fi; }
url() { echo "$(scheme)://127.0.0.1:$(http_port "$1")"; }
SERVER=${RAFTDLM_SERVER:-src/HttpApi/bin/Release/net10.0/RaftDlm.Server.dll}

valid_name() { [[ $1 =~ ^node[1-9][0-9]{0,2}$ ]]; }
is_member() { local m; for m in "${NODES[@]}"; do [ "$m" = "$1" ] && return 0; done; return 1; }
save_nodes() { mkdir -p "$DATA"; printf '%s\n' "$@" >"$NODES_FILE.tmp"; mv "$NODES_FILE.tmp" "$NODES_FILE"; }

# curl with the cluster's CA and the admin token, if any; bounded by --max-time (first argument, seconds).
api() {
  local max=$1; shift
  local args=(-s --max-time "$max")
  if tls_on; then args+=(--cacert "$TLS_DIR/ca.pem"); fi
  if [ -n "${RAFTDLM_TOKEN:-}" ]; then args+=(-H "Authorization: Bearer $RAFTDLM_TOKEN"); fi
  curl "${args[@]}" "$@"
}

# The member entry (one JSON object) of $2 in the members list $1, or nothing.
member_entry() { printf '%s' "$1" | grep -o "{[^{}]*\"id\":\"$2\"[^{}]*}" || true; }

# "id role status" per member of a members list.
member_lines() {
  printf '%s' "$1" | grep -o '{[^{}]*}' | sed -E 's/.*"id":"([^"]*)".*"role":"([^"]*)".*"status":"([^"]*)".*/\1 \2 \3/' || true
}

# A key and a certificate for 127.0.0.1/localhost, usable by servers and clients, issued by the CA in $2.
node_certificate() {
  local n=$1 ca=$2
  if [ -f "$TLS_DIR/$n.pem" ]; then return 0; fi
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$n" \
    -keyout "$TLS_DIR/$n.key" -out "$TLS_DIR/$n.csr" 2>/dev/null
  openssl x509 -req -in "$TLS_DIR/$n.csr" -CA "$ca" -CAkey "$TLS_DIR/ca.key" -CAcreateserial -days 10 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n') \
    -out "$TLS_DIR/$n.pem" 2>/dev/null
  rm -f "$TLS_DIR/$n.csr"
  chmod 600 "$TLS_DIR/$n.key"
}

# A CA (10 days) and a certificate per member.
make_certificates() {
  if tls_on; then return 0; fi
  mkdir -p "$TLS_DIR"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 10 -subj "/CN=raft-dlm local CA" \
    -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem.tmp" 2>/dev/null
  chmod 600 "$TLS_DIR/ca.key"
  local n
  for n in "${NODES[@]}"; do node_certificate "$n" "$TLS_DIR/ca.pem.tmp"; done
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

# The --members value for the nodes given. It founds a new cluster; once a node has stored the cluster's
# membership (at its first start) it is not read again.
members() {
  local list="" n
  for n in "$@"; do
    list+="${list:+,}$n=127.0.0.1:$(raft_port "$n")=$(url "$n")"
  done
  echo "$list"
}

running() { [ -f "$DATA/$1.pid" ] && kill -0 "$(cat "$DATA/$1.pid")" 2>/dev/null; }

# Every member and every other node that has a pid file, sorted by number.
known_nodes() {
  local n f
  { for n in "${NODES[@]}"; do echo "$n"; done
    for f in "$DATA"/node*.pid; do [ -e "$f" ] && basename "$f" .pid; done; } | sort -u -t e -k 2 -n
}

# The build's output goes to a file (shown when it fails): build servers it leaves behind hold no terminal or pipe.
build_server() {
  mkdir -p "$DATA"
  if [ -z "${RAFTDLM_SERVER:-}" ] && ! dotnet build -c Release -nologo -v quiet src/HttpApi >"$DATA/build.log" 2>&1; then
    cat "$DATA/build.log" >&2; exit 1
  fi
  [ -f "$SERVER" ] || { echo "no server at $SERVER" >&2; exit 2; }
  # A build leaves hundreds of megabytes of dirty pages that the kernel writes back 30 s later, stalling every
  # sync on the disk meanwhile (the nodes' log syncs by up to 600 ms: "Disk stalls" in docs/operations.md).
  # Written now, before a node starts.
  sync
}

# start_node NODE [extra server arguments...]
start_node() {
  local n=$1; shift
  if running "$n"; then echo "$n already running (pid $(cat "$DATA/$n.pid"))"; return; fi
  mkdir -p "$DATA/$n"
  local members_list
  if is_member "$n"; then members_list=$(members "${NODES[@]}"); else members_list=$(members "${NODES[@]}" "$n"); fi
  # shellcheck disable=SC2046 # the TLS arguments are paths without spaces under $DATA
  nohup dotnet "$SERVER" --node-id "$n" --http "$(url "$n")" \
    --raft "127.0.0.1:$(raft_port "$n")" --data "$DATA/$n" --members "$members_list" $(tls_arguments "$n") "$@" \
    >>"$DATA/$n.log" 2>&1 &
  echo $! >"$DATA/$n.pid"
  echo "$n started (pid $!, $(url "$n"))"
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
  local n=$1
  if running "$n"; then
    # shellcheck disable=SC2046
    echo "$n pid $(cat "$DATA/$n.pid"): $(curl -s --max-time 2 $(curl_tls) "$(url "$n")/v1/cluster?stale=true" || echo 'not answering')"
  else
    echo "$n stopped"
  fi
}

# The URL of a running member (not $1) that answers GET /v1/cluster/members, or nothing.
live_member() {
  local n
  for n in "${NODES[@]}"; do
    [ "$n" = "${1:-}" ] && continue
    running "$n" || continue
    if api 3 -f "$(url "$n")/v1/cluster/members" >/dev/null 2>&1; then url "$n"; return 0; fi
  done
  return 0
}

show_members() {
  local list
  list=$(api 3 "$1/v1/cluster/members" || true)
  echo "members as $1 sees them:"
  member_lines "$list" | sed 's/^/  /'
}

add_node() {
  local n=$1
  valid_name "$n" || { echo "add: '$n' is not a node name (node4, node5, ...)" >&2; exit 2; }
  if is_member "$n"; then echo "add: $n is a member already" >&2; exit 1; fi
  if running "$n"; then
    # Added, but the script was interrupted before it noted so?
    local seen; seen=$(live_member)
    if [ -n "$seen" ] && [[ $(member_entry "$(api 3 "$seen/v1/cluster/members" || true)" "$n") == *'"role":"voter"'* ]]; then
      save_nodes "${NODES[@]}" "$n"
      echo "$n runs and is a voter already"
      return 0
    fi
    echo "add: $n is running (pid $(cat "$DATA/$n.pid")) but is not a member; stop it first" >&2; exit 1
  fi
  if [ -d "$DATA/$n" ] && [ -n "$(ls -A "$DATA/$n")" ]; then
    echo "add: $DATA/$n is not empty; a new member starts with an empty data directory (move it away first)" >&2; exit 1
  fi
  local through; through=$(live_member)
  if [ -z "$through" ]; then echo "add: no member of ${NODES[*]} is running and answering" >&2; exit 1; fi
  if tls_on; then node_certificate "$n" "$TLS_DIR/ca.pem"; fi
  build_server
  local from=1
  if [ -f "$DATA/$n.log" ]; then from=$(($(wc -c <"$DATA/$n.log") + 1)); fi
  start_node "$n" --join "$through" --JoinTimeoutMs "$JOIN_TIMEOUT_MS"
  echo "$n joins through $through (it is caught up as a learner first; its log: $DATA/$n.log)"
  local deadline=$((SECONDS + JOIN_TIMEOUT_MS / 1000 + 30)) list entry
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! running "$n"; then
      echo "add: $n stopped before it was added; from its log ($DATA/$n.log):" >&2
      { tail -c "+$from" "$DATA/$n.log" | grep -E -A1 --no-group-separator '^(crit|fail):|Unhandled exception' | tail -n 6; } >&2 \
        || tail -n 5 "$DATA/$n.log" >&2
      rm -f "$DATA/$n.pid"
      rm -rf "${DATA:?}/$n"
      exit 1
    fi
    list=$(api 3 "$through/v1/cluster/members" || true)
    entry=$(member_entry "$list" "$n")
    if [[ $entry == *'"role":"voter"'* ]]; then
      save_nodes "${NODES[@]}" "$n"
      echo "$n is a voter"
      show_members "$through"
      return 0
    fi
    sleep 0.5
  done
  echo "add: $n was not listed as a voter within $((JOIN_TIMEOUT_MS / 1000 + 30)) s; stopping it" >&2
  stop_node "$n"
  exit 1
}

remove_node() {
  local n=$1
  valid_name "$n" || { echo "remove: '$n' is not a node name" >&2; exit 2; }
  local through; through=$(live_member "$n")
  if [ -z "$through" ]; then echo "remove: no other member of ${NODES[*]} is running and answering" >&2; exit 1; fi
  # Retried for up to a minute while the answer says the change was not made or may be made later: no leader
  # yet (a dead leader's successor is being elected), another change in progress, or an unknown outcome (a
  # repeat then answers 404 if the first attempt removed it).
  local reply status earlier="" deadline=$((SECONDS + 60))
  while :; do
    reply=$(api 60 -w '\n%{http_code}' -X DELETE "$through/v1/cluster/members/$n" || true)
    status=${reply##*$'\n'}
    case "$status" in
      200) echo "$n removed from the cluster (through $through)"; break ;;
      404)
        if [ -n "$earlier" ]; then echo "$n removed from the cluster (through $through; it answered $earlier, then 404: gone)"
        else echo "$n is not a member of the cluster (through $through); stopping it if it runs"; fi
        break ;;
      503|504|000|"") ;;
      409) [[ $reply == *"in progress"* ]] || { echo "remove: $through answered 409: ${reply%$'\n'*}" >&2; exit 1; } ;;
      *) echo "remove: $through answered $status: ${reply%$'\n'*}" >&2; exit 1 ;;
    esac
    if [ "$SECONDS" -ge "$deadline" ]; then echo "remove: $through answered ${status:-nothing} for 60 s: ${reply%$'\n'*}" >&2; exit 1; fi
    earlier=${status:-nothing}
    echo "$through answered $earlier $(printf '%s' "$reply" | grep -o '"detail":"[^"]*"' || true); trying again"
    sleep 1
  done
  local list
  for _ in $(seq 1 120); do
    list=$(api 3 "$through/v1/cluster/members" || true)
    if [ -n "$list" ] && [ -z "$(member_entry "$list" "$n")" ]; then break; fi
    sleep 0.5
  done
  if [ -n "$(member_entry "$list" "$n")" ]; then echo "remove: $through still lists $n after 60 s" >&2; exit 1; fi
  stop_node "$n"
  local rest=() m
  for m in "${NODES[@]}"; do [ "$m" = "$n" ] || rest+=("$m"); done
  save_nodes "${rest[@]}"
  if [ -d "$DATA/$n" ]; then
    # Its data is of no use any more; kept aside, so that the name can be added again later.
    mkdir -p "$DATA/removed"
    mv "$DATA/$n" "$DATA/removed/$n-$(date -u +%Y%m%dT%H%M%SZ)"
  fi
  show_members "$through"
}

cmd=${1:-status}
shift || true
want_tls=false
if [ "${1:-}" = "--tls" ]; then want_tls=true; shift; fi
explicit=$#
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(known_nodes); fi
case "$cmd" in
  start)
    if [ "$explicit" -eq 0 ]; then targets=("${NODES[@]}"); fi
    for n in "${targets[@]}"; do
      valid_name "$n" || { echo "start: '$n' is not a node name" >&2; exit 2; }
      is_member "$n" || { echo "start: $n is not a member of this cluster (${NODES[*]}); use add $n" >&2; exit 1; }
    done
    mkdir -p "$DATA"
    [ -f "$NODES_FILE" ] || save_nodes "${NODES[@]}"
    if $want_tls; then make_certificates; fi
    build_server
    for n in "${targets[@]}"; do start_node "$n"; done
    for _ in $(seq 1 100); do
      # shellcheck disable=SC2046
      curl -sf --max-time 1 $(curl_tls) "$(url "${targets[0]}")/readyz" >/dev/null 2>&1 && break
      sleep 0.2
    done
    for n in "${targets[@]}"; do status_node "$n"; done ;;
  stop) for n in "${targets[@]}"; do stop_node "$n"; done ;;
  restart)
    if [ "$explicit" -eq 0 ]; then targets=("${NODES[@]}"); fi
    for n in "${targets[@]}"; do stop_node "$n"; done; "$0" start "${targets[@]}" ;;
  status) for n in "${targets[@]}"; do status_node "$n"; done ;;
  add) [ "$explicit" -eq 1 ] || { echo "usage: $0 add nodeN" >&2; exit 2; }; add_node "$1" ;;
  remove) [ "$explicit" -eq 1 ] || { echo "usage: $0 remove nodeN" >&2; exit 2; }; remove_node "$1" ;;
  *) echo "usage: $0 start [--tls]|stop|status|restart [node ...] | add nodeN | remove nodeN" >&2; exit 2 ;;
esac
