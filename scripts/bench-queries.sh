#!/usr/bin/env bash
# The issue-13 queries and table views over HTTP (issue 13, item 6): the figures to set
# beside PocketBase's (../shared/PEERS.md). Starts the service on a copy of the people
# database that `cargo bench --bench query` generates (generated first when missing), then
# times each query RUNS times right after a saveProperty (so no count can be remembered),
# with the count and with `count=false`, and prints the p50 and the worst in ms.
#
#   scripts/bench-queries.sh [--people N] [--runs N] [--writes-per-second R] [--no-build]
#
# Defaults: 1,000,000 people, 5 runs. --writes-per-second R runs saveProperty at about R
# requests/s on random people beside the queries (wrk, paced by scripts/wrk/save_property.lua's
# RATE, corrected every second by the rate reached), as the issue asks ("under 500
# writes/s"), and prints the rate it reached.
# Last, issue 9's table view under load at this size (wrk -c4 for 10 s, when wrk is there).
set -euo pipefail
PEOPLE=1000000
RUNS=5
RATE=0
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --people) PEOPLE="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --writes-per-second) RATE="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
build_release
SOURCE="$ROOT/target/bench/people-$PEOPLE.db"
if [ ! -f "$SOURCE" ]; then
  echo "generating $SOURCE (cargo bench --bench query)" >&2
  DATASTORE_BENCH_PEOPLE="$PEOPLE" DATASTORE_BENCH_ONLY="generate only" \
    cargo bench --locked --bench query >&2
fi
prepare_work queries
cp "$SOURCE" "$WORK/q.db"
[ ! -f "$SOURCE-wal" ] || cp "$SOURCE-wal" "$WORK/q.db-wal"
URL="http://127.0.0.1:$PORT"
RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --database "sqlite://$WORK/q.db" \
  --dsconfig "$ROOT/dsconfig" >"$WORK/server.log" 2>&1 &
SERVER=$!
wait_healthy "$URL" "$WORK/server.log" 2400

# The people's ids (the generator makes cities and companies first).
FIRST=$(curl -sf "$URL/getObjectListTable" -H 'Content-Type: application/json' \
  -d '{"objectType":"Person","orderBy":"objectId","limit":1,"count":false}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["objectId"])')
WRITER=""
if [ "$RATE" -gt 0 ]; then
  if ! command -v wrk >/dev/null; then
    echo "wrk is missing: installing Debian's package" >&2
    apt-get install -y wrk >&2
  fi
  # Eight paced connections, RATE requests/s between them.
  RATE="$RATE" CONNECTIONS=8 FIRST="$FIRST" OBJECTS="$PEOPLE" wrk -t1 -c8 -d3600s \
    -s "$ROOT/scripts/wrk/save_property.lua" "$URL" >"$WORK/writes.out" 2>&1 &
  WRITER=$!
  sleep 2
fi

echo "# $(machine_line), $PEOPLE people, p50 and worst of $RUNS runs, each right after a write$([ "$RATE" -gt 0 ] && echo ", saveProperty at about $RATE/s beside")"
python3 - "$PORT" "$RUNS" "$PEOPLE" "$FIRST" <<'PY'
import http.client, json, random, statistics, sys, time
port, runs, people, first = (int(a) for a in sys.argv[1:5])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
random.seed(13)

def post(path, body):
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit(f"{path} answered {r.status}: {data[:300]!r}")
    return r

def timed(path, body):
    times = []
    for _ in range(runs):
        post("/saveProperty", {"objectId": first + random.randrange(people), "propertyName": "age",
                               "propertyValue": str(random.randint(1, 99))})
        t = time.perf_counter()
        post(path, body)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times)

QUERIES = [
    'age > 30 and lastName == "Doe" order by age limit 50',
    'company.city.name == "Berlin" limit 50',
    'firstName == "Emma" and status == "I" order by birthDate DESC limit 20',
    'lastName startswith "M" and age < 20 limit 50',
    'status == "A" order by birthDate DESC limit 50',
    'age >= 18 and age < 65 order by lastName limit 50',
]
VIEWS = [
    ({"status": "A"}, "birthDate DESC", 50),
    ({"firstName": "Emma", "status": "I"}, "birthDate DESC", 20),
    ({"lastName": "Doe"}, "age", 50),
    ({}, "lastName", 50),
    ({}, "lastName DESC", 50),
    ({"status": "A"}, "age DESC", 50),
]
print(f"{'with count':>16} {'count=false':>16}  query (p50 / worst, ms)")
for q in QUERIES:
    a = timed("/getObjectListByFilter", {"objectType": "Person", "query": q})
    b = timed("/getObjectListByFilter", {"objectType": "Person", "query": q, "count": False})
    print(f"{a[0]:7.1f} / {a[1]:6.1f} {b[0]:7.1f} / {b[1]:6.1f}  {q}")
for f, order, limit in VIEWS:
    body = {"objectType": "Person", "filter": f, "orderBy": order, "limit": limit}
    a = timed("/getObjectListTable", body)
    b = timed("/getObjectListTable", dict(body, count=False))
    name = ", ".join(f"{k} = {v}" for k, v in f.items()) or "all"
    print(f"{a[0]:7.1f} / {a[1]:6.1f} {b[0]:7.1f} / {b[1]:6.1f}  table: {name}, {order}, {limit}")
PY
# Issue 9's table view at this size: one surname (of the ten the generator uses, each about
# 100,000 people), ordered by age, 50 rows with the total, 4 connections, for 10 s.
if command -v wrk >/dev/null; then
  out=$(NAMES="Doe,Smith,Meier,Jansen,Visser,Müller,Bakker,Roe,Poe,Lee" wrk -t1 -c4 -d10s --latency \
    -s "$ROOT/scripts/wrk/table_view.lua" "$URL")
  echo "# table view under load (wrk -c4, 10 s, lastName = one of 10, order by age, 50 rows, with the count):" \
    "$(awk '/^Requests\/sec:/ {printf "%d req/s", $2}' <<<"$out"), p50 $(awk '/^ +50%/ {print $2}' <<<"$out")," \
    "p99 $(awk '/^ +99%/ {print $2}' <<<"$out"), $(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out" | grep . || echo 0) non-2xx"
fi
if [ -n "$WRITER" ]; then
  kill -INT "$WRITER" 2>/dev/null || true
  wait "$WRITER" 2>/dev/null || true
  echo "# writes beside: $(awk '/Requests\/sec/ {print $2}' "$WORK/writes.out") req/s, $(awk '/requests in/ {print $1}' "$WORK/writes.out") requests, $(grep -c 'Non-2xx' "$WORK/writes.out" || true) lines of non-2xx"
fi
echo "# the service's peak RSS (VmHWM): $(awk '/^VmHWM:/ {printf "%.0f MB", $2 / 1024}' "/proc/$SERVER/status"), anonymous now: $(awk '/^RssAnon:/ {printf "%.0f MB", $2 / 1024}' "/proc/$SERVER/status")"
