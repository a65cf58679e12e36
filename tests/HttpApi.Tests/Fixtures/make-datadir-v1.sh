#!/usr/bin/env bash
# Made tests/HttpApi.Tests/Fixtures/datadir-v1 (OUTPUT_FOLDER/datadir-v1): the data directory of one node of today's server (entry
# envelope 1, snapshot file "RDS1", lock table snapshot 2, DotNext 6.12.0 WAL with 64 KiB chunks), holding a
# snapshot and a WAL tail after it, and expected-v1.json: what the lock table held when the node stopped.
# With LOG=segmented it made datadir-log-v1 and expected-log-v1.json the same way, on the segmented log
# (version 1, 64 KiB segments) that a new data directory gets since that log came: a snapshot and a log tail.
# DataDirectoryCompatibilityTests starts the current server on a copy of each and checks every value is still there.
# The checked-in fixtures were made once, by the code of their version, and are never made again (docs/formats.md);
# a release that changes a format copies this script as make-datadir-v2.sh. It writes into a new folder:
#   [LOG=segmented] tests/HttpApi.Tests/Fixtures/make-datadir-v1.sh OUTPUT_FOLDER
set -euo pipefail
OUT=$(realpath -m "${1:?usage: [LOG=segmented] $0 OUTPUT_FOLDER (a new folder, never the checked-in Fixtures)}")
case "${LOG:-dotnext}" in
  dotnext) ENGINE=DotNext NAME=v1 LAYOUT='wal: "DotNext.Net.Cluster 6.12.0, checkpoint 1, 65536-byte chunks"' ;;
  segmented) ENGINE=Segmented NAME=log-v1 LAYOUT='log: "segmented 1, 65536-byte segments"' ;;
  *) echo "LOG is dotnext or segmented, not $LOG" >&2; exit 2 ;;
esac
if [ -e "$OUT/datadir-$NAME" ]; then echo "$OUT/datadir-$NAME exists: a fixture is never made again over itself" >&2; exit 2; fi
cd "$(dirname "$0")/../../.."

PORT=${RAFTDLM_FIXTURE_PORT:-19710}
URL=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
SERVER=src/HttpApi/bin/Release/net10.0/RaftDlm.Server.dll
dotnet build -c Release -nologo -v quiet src/HttpApi >/dev/null

dotnet "$SERVER" --node-id node1 --http "$URL" --raft "127.0.0.1:$((PORT + 1))" --data "$WORK/node1" \
  --SnapshotEveryEntries 12 --ChunkSizeBytes 65536 --LogEngine "$ENGINE" >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 150); do curl -sf --max-time 1 "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "$URL/readyz" >/dev/null

call() { # METHOD PATH [JSON BODY]: prints the answer; fails on a status other than 2xx
  curl -sS --fail-with-body --max-time 10 -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} "$URL$2"
}
session() { call POST /v1/sessions "{\"name\":\"$1\",\"ttlMs\":3600000}" | jq -r .sessionId; }
lock() { # LOCKSPACE SESSION RESOURCE MODE [EXTRA JSON FIELDS]: the lock id (granted or waiting)
  call POST "/v1/lockspaces/$1/locks" "{\"sessionId\":\"$2\",\"resource\":\"$3\",\"mode\":\"$4\",\"waitMs\":0${5:+,$5}}" | jq -r .lockId
}
lvb() { printf '%-*s' "$1" "$2" | base64; } # SIZE TEXT: the text padded with spaces to the lockspace's LVB size

call PUT /v1/lockspaces/alpha '{"lvbBytes":16,"lockDelayMs":0}' >/dev/null
call PUT /v1/lockspaces/beta '{"lvbBytes":8,"lockDelayMs":0}' >/dev/null
writer=$(session writer); reader=$(session reader); queued=$(session queued); dying=$(session dying)

# alpha/shared: an LVB written from EX, two PR holders, one of them converting to EX, an EX request waiting.
w1=$(lock alpha "$writer" shared EX)
call POST "/v1/lockspaces/alpha/locks/$w1/convert" "{\"mode\":\"PR\",\"lvb\":\"$(lvb 16 'shared-value-1')\"}" >/dev/null
r1=$(lock alpha "$reader" shared PR)
call POST "/v1/lockspaces/alpha/locks/$r1/convert" '{"mode":"EX","waitMs":0}' >/dev/null
q1=$(lock alpha "$queued" shared EX)

# alpha/lost: a writer that dies holding EX leaves the LVB invalid; the reader waiting behind it gets PR.
d1=$(lock alpha "$dying" lost EX)
call POST "/v1/lockspaces/alpha/locks/$d1/convert" "{\"mode\":\"EX\",\"lvb\":\"$(lvb 16 'lost-value')\"}" >/dev/null
r2=$(lock alpha "$reader" lost PR)

# beta/kept: a persistent EX of the dying session becomes an orphan; beta/tree: a lock with a sublock.
d2=$(lock beta "$dying" kept EX '"flags":["persistent"]')
call POST "/v1/lockspaces/beta/locks/$d2/convert" "{\"mode\":\"EX\",\"lvb\":\"$(lvb 8 'orphan')\"}" >/dev/null
call DELETE "/v1/sessions/$dying" >/dev/null

# Past the snapshot: these entries stay in the log's tail.
t1=$(lock beta "$writer" tree PW)
t2=$(lock beta "$writer" leaf CR "\"parentLockId\":\"$t1\"")
call POST "/v1/lockspaces/beta/locks/$t1/convert" "{\"mode\":\"PW\",\"lvb\":\"$(lvb 8 'tree-1')\"}" >/dev/null
call POST "/v1/lockspaces/beta/locks/$t1/convert" "{\"mode\":\"PW\",\"lvb\":\"$(lvb 8 'tree-2')\"}" >/dev/null
n1=$(lock alpha "$queued" solo NL)

locks=()
for id in "$w1" "$r1" "$q1" "$r2" "$d2" "$t1" "$t2" "$n1"; do
  space=alpha; case "$id" in "$d2"|"$t1"|"$t2") space=beta ;; esac
  locks+=("$(call GET "/v1/lockspaces/$space/locks/$id")")
done
resources=()
for r in alpha/shared alpha/lost alpha/solo beta/kept beta/tree; do
  resources+=("$(call GET "/v1/lockspaces/${r%%/*}/resources/${r#*/}" | jq -c --arg ls "${r%%/*}" '{lockspace: $ls} + .')")
done
cluster=$(call GET /v1/cluster)
jq -n "{formats: {entryEnvelope: 1, snapshotFile: 1, lockTableSnapshot: 2, $LAYOUT}}" | jq \
  --argjson cluster "$cluster" \
  --argjson lockspaces "$(call GET /v1/lockspaces)" \
  --argjson sessions "$(call GET '/v1/sessions?limit=1000' | jq '[.sessions[] | del(.ttlLeftMs)]')" \
  --argjson locks "$(printf '%s\n' "${locks[@]}" | jq -s .)" \
  --argjson resources "$(printf '%s\n' "${resources[@]}" | jq -s .)" \
  '{formats: .formats,
    server: {nodeId: "node1", chunkSizeBytes: 65536},
    appliedIndex: $cluster.appliedIndex, snapshotIndex: $cluster.snapshotIndex,
    lockspaces: $lockspaces.lockspaces, sessions: $sessions, locks: $locks, resources: $resources}' >"$WORK/expected-$NAME.json"
jq -e '.snapshotIndex > 0 and .appliedIndex > .snapshotIndex' "$WORK/expected-$NAME.json" >/dev/null \
  || { echo "no snapshot with a log tail after it: $(jq -c '{appliedIndex, snapshotIndex}' "$WORK/expected-$NAME.json")" >&2; exit 1; }

kill "$PID"
for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
mkdir -p "$OUT"
rm -rf "$OUT/datadir-$NAME"
cp -r "$WORK/node1" "$OUT/datadir-$NAME"
cp "$WORK/expected-$NAME.json" "$OUT/expected-$NAME.json"
du -sh "$OUT/datadir-$NAME"
jq -c '{appliedIndex, snapshotIndex, locks: (.locks | length)}' "$OUT/expected-$NAME.json"
