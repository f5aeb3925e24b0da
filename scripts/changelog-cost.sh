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
WORK="$(mktemp -d -t datastore-cost-XXXXXX)"
PORT="$(free_port)"
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export DATASTORE_DATABASE_URL="sqlite://$WORK/cost.db" DATASTORE_DSCONFIG="$ROOT/dsconfig"
python3 "$ROOT/scripts/gen_export.py" "$OBJECTS" >"$WORK/people.jsonl"
"$BIN" import --input "$WORK/people.jsonl" >&2
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
def ir(pattern):
    total = 0
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\*?\s*(\S.*)", line)
        if m and re.search(pattern, m.group(2)):
            total = max(total, int(m.group(1).replace(",", "")))
    return total
request = ir(r"api::objects::save_property\b")
save = ir(r"store::sqlite::objects::save_in\b")
record = ir(r"store::sqlite::changes::record\b")
diff = ir(r"store::changes::NewChange::of\b")
before = ir(r"store::sqlite::objects::require\b") // 2  # before and after: two calls
print(f"| per request | instructions |\n| --- | ---: |")
for name, v in [("saveProperty handler (inclusive)", request), ("store save_in", save),
                ("change log: record", record), ("change log: diff", diff),
                ("change log: read before (half of `require`)", before)]:
    print(f"| {name} | {v // n:,} |")
log = record + diff + before
print(f"\nchange log share of the handler: {100 * log / max(request, 1):.1f} %")
PY
