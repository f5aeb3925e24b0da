#!/usr/bin/env bash
# What the change log costs a saveProperty (issue 11), counted in instructions rather than
# timed, so that the figure holds on a busy machine: the service runs under
# `valgrind --tool=callgrind` on a database of OBJECTS Person objects, N saveProperty
# requests go to it one after another, and the instructions of the functions that exist
# only for the change log (recording the change; reading the object before the write) are
# compared with those of the whole request.
#
#   scripts/changelog-cost.sh [--objects N] [--requests N] [--no-build]
set -euo pipefail
OBJECTS=10000
REQUESTS=2000
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --objects) OBJECTS="$2"; shift 2 ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
build_release
prepare_work cost
export DATASTORE_DATABASE_URL="sqlite://$WORK/cost.db" DATASTORE_DSCONFIG="$ROOT/dsconfig"
load_people "$OBJECTS"
RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" \
  "$BIN" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
wait_healthy "http://127.0.0.1:$PORT" "$WORK/server.log" 1200
python3 - "$PORT" "$REQUESTS" "$OBJECTS" <<'PY'
import http.client, json, random, sys
port, n, objects = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
random.seed(1)
for _ in range(n):
    body = json.dumps({"objectId": random.randint(1, objects), "propertyName": "age",
                       "propertyValue": str(random.randint(1, 99))})
    c.request("POST", "/saveProperty", body, {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
kill -INT "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
echo "change log cost of saveProperty: $(machine_line), $OBJECTS objects, $REQUESTS requests"
callgrind_annotate --inclusive=yes --threshold=100 "$WORK/callgrind.out" 2>/dev/null >"$WORK/annotated.txt"
python3 - "$WORK/annotated.txt" "$REQUESTS" <<'PY'
import re, sys
text, n = open(sys.argv[1]).read(), int(sys.argv[2])
total = int(re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", text).group(1).replace(",", ""))
def ir(pattern):
    best = 0
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\*?\s*(\S.*)", line)
        if m and re.search(pattern, m.group(2)):
            best = max(best, int(m.group(1).replace(",", "")))
    return best
rows = [
    ("the whole service, per request (HTTP, JSON, writer, SQLite; startup included)", total),
    ("store: save_in (the write's transaction body)", ir(r"sqlite::objects::save_in\b")),
    ("change log: read before the write (load_written)", ir(r"sqlite::objects::load_written\b")),
    ("change log: the diff (NewChange::of)", ir(r"store::changes::NewChange::of\b")),
    ("change log: record (JSON, INSERT INTO Changes)", ir(r"sqlite::changes::record\b")),
]
print("| per saveProperty | instructions |\n| --- | ---: |")
for name, v in rows:
    print(f"| {name} | {v // n:,} |")
log = sum(v for _, v in rows[2:])
print(f"\nchange log: {100 * log / total:.1f} % of the service's instructions per request, "
      f"{100 * log / max(rows[1][1], 1):.0f} % of the write's transaction body")
PY
