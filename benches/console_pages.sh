#!/usr/bin/env bash
# The admin console's pages on a big database: times every request a page makes, through
# HTTP, against a release `datastore serve` (not a test; record the figures in
# docs/BENCHMARKS.md with `uptime`).
#
#   cargo bench --bench query                       # generates target/bench/people-1000000.db
#   cargo build --release
#   benches/console_pages.sh target/bench/people-1000000.db 1000000
#
# Any size: DATASTORE_BENCH_PEOPLE=100000 cargo bench --bench query, then
# benches/console_pages.sh target/bench/people-100000.db 100000. DATASTORE_BIN picks the
# binary (default target/release/datastore). It edits one person 25 times (its history).
#
# Each request runs once cold (right after the server starts, counts not remembered yet),
# then 5 times; the median of the 5 is printed with the cold time.
#
# It writes into the database (the edits above): point it at a copy, e.g.
#   cp target/bench/people-1000000.db* /tmp/copy/ && benches/console_pages.sh /tmp/copy/people-1000000.db
# The table's pages are those the console asks: rows with `count=false` and the cursor
# (`after` = the X-Next-After of the page before), the total by one `limit=1` request. The
# deep page is reached by walking the whole table 1000 rows at a time (DEEP_WALK=0 skips it).
set -euo pipefail
db=${1:?the SQLite database of the query bench}
people=${2:-1000000}
bin=${DATASTORE_BIN:-target/release/datastore}
port=${PORT:-18089}
base="http://127.0.0.1:$port"

if curl -fs "$base/health" >/dev/null 2>&1; then
  echo "something already answers on port $port (PORT= picks another)" >&2
  exit 1
fi
"$bin" serve --database "sqlite://$db" --listen "127.0.0.1:$port" --dsconfig dsconfig \
  >/tmp/console-bench-serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
# Opening a big database takes a while (about 20 s at 1,000,000 people): wait up to 5 minutes.
started=$(date +%s)
until curl -fs "$base/health" >/dev/null 2>&1; do
  if ! kill -0 $server 2>/dev/null || [ $(($(date +%s) - started)) -gt 300 ]; then
    echo "the server did not start; /tmp/console-bench-serve.log says:" >&2
    tail -5 /tmp/console-bench-serve.log >&2
    exit 1
  fi
  sleep 0.2
done
echo "(the server answered after $(($(date +%s) - started)) s)" >&2

time_of() { curl -s -o /dev/null -w '%{time_total}' -H 'Content-Type: application/json' -d "$2" "$base/$1"; }
# The X-Next-After of a page (empty on the last).
next_of() {
  curl -s -o /dev/null -D - -H 'Content-Type: application/json' -d "$2" "$base/$1" \
    | tr -d '\r' | sed -n 's/^[Xx]-[Nn]ext-[Aa]fter: //p'
}

measure() {
  local label=$1 endpoint=$2 body=$3
  local cold runs median
  cold=$(time_of "$endpoint" "$body")
  runs=$(for _ in 1 2 3 4 5; do time_of "$endpoint" "$body"; echo; done | sort -n)
  median=$(echo "$runs" | sed -n 3p)
  printf '| %s | %.0f ms | %.0f ms |\n' "$label" "$(echo "$cold * 1000" | bc)" "$(echo "$median * 1000" | bc)"
}

cols='["firstName","lastName","age","height","salary","birthDate","lastLogin","workStart"]'
last=$((people - 50))
# A person in the middle (its object page, its history).
id=$(curl -s -H 'Content-Type: application/json' \
  -d "{\"objectType\":\"Person\",\"offset\":$((people / 2)),\"limit\":1}" \
  "$base/getObjectListTable" | sed 's/.*"objectId":\([0-9]*\).*/\1/')
company=$(curl -s -H 'Content-Type: application/json' -d "{\"objectId\":$id}" "$base/getObject" \
  | sed 's/.*"company":\([0-9]*\).*/\1/')

# History: 25 edits of one person, so that its log has two pages (20 a page, as the console).
for age in $(seq 20 44); do
  curl -s -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"objectId\":$id,\"propertyName\":\"age\",\"propertyValue\":$age}" "$base/saveProperty"
done
after=$(curl -s -H 'Content-Type: application/json' -d "{\"objectId\":$id,\"limit\":21}" "$base/getHistory" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)[19]["changeId"])')

# The live view: time until the stream's first bytes (the server reads the log's head first).
events_first_byte() {
  curl -s -N -o /dev/null --max-time 2 -w '%{time_starttransfer}' "$base/events?objectType=Person" || true
}

echo "people: $people; database: $db; commit $(git rev-parse --short HEAD); $(date -u '+%Y-%m-%d %H:%M UTC'); $(uptime)"
echo '| request (page) | cold | median of 5 |'
echo '| --- | --- | --- |'
measure 'getConfig (types page)' getConfig '{}'
measure 'getObjectTypes (types page: types in the data)' getObjectTypes '{}'
for t in Person Company City; do
  measure "count of $t (types page)" getObjectListTable "{\"objectType\":\"$t\",\"limit\":1}"
done
# A table view as the console asks it: rows (count=false) page 1, page 2 by the cursor, and
# the total once per view.
table() {
  local label=$1 endpoint=$2 params=$3
  local first="{\"objectType\":\"Person\",\"properties\":$cols,$params\"limit\":50,\"count\":false}"
  measure "$label: rows, page 1" "$endpoint" "$first"
  local after
  after=$(next_of "$endpoint" "$first")
  if [ -n "$after" ]; then
    measure "$label: rows, page 2 (after)" "$endpoint" "{\"objectType\":\"Person\",\"properties\":$cols,$params\"limit\":50,\"count\":false,\"after\":\"$after\"}"
  fi
  if [ -n "${4:-}" ]; then
    measure "$label: the total (limit 1, counted, no sort)" "$endpoint" "{\"objectType\":\"Person\",\"properties\":$cols,$4\"limit\":1}"
  fi
}
# The fourth argument: the count's parameters (the console counts once per query and
# filters, without the sort; a sort keeps the total already shown).
table 'table' getObjectListTable '' ' '
table 'table sorted by age DESC' getObjectListTable '"orderBy":["age DESC"],'
table 'table sorted by lastName' getObjectListTable '"orderBy":["lastName"],'
table 'table sorted by lastName DESC' getObjectListTable '"orderBy":["lastName DESC"],'
table 'table sorted by height (Number)' getObjectListTable '"orderBy":["height"],'
table 'table sorted by birthDate DESC' getObjectListTable '"orderBy":["birthDate DESC"],'
table 'filter lastName = Doe' getObjectListTable '"filter":{"lastName":"Doe"},' '"filter":{"lastName":"Doe"},'
table 'query age > 30 and lastName == "Doe"' getObjectListByFilter '"query":"age > 30 and lastName == \"Doe\"",' '"query":"age > 30 and lastName == \"Doe\"",'
table 'query age > 30 and lastName == "Doe" order by age' getObjectListByFilter '"query":"age > 30 and lastName == \"Doe\" order by age",' '"query":"age > 30 and lastName == \"Doe\" order by age",'
table 'query and a filter row as one query' getObjectListByFilter '"query":"(age > 30) and lastName == \"Doe\" order by age",' '"query":"(age > 30) and lastName == \"Doe\" order by age",'
if [ "${DEEP_WALK:-1}" != 0 ]; then
  # The last page of the default order, reached as a person would (Next, Next, ...), here
  # 1000 rows at a time.
  walk='{"objectType":"Person","limit":1000,"count":false'
  cursor='' pages=0 started=$(date +%s)
  while :; do
    body="$walk${cursor:+,\"after\":\"$cursor\"}}"
    nextc=$(next_of getObjectListTable "$body")
    [ -z "$nextc" ] && break
    cursor=$nextc pages=$((pages + 1))
  done
  echo "(walked $pages pages of 1000 rows in $(($(date +%s) - started)) s)" >&2
  if [ "$pages" -gt 0 ]; then
    measure "table: rows, a page at object $((pages * 1000)) (after)" getObjectListTable "{\"objectType\":\"Person\",\"properties\":$cols,\"limit\":50,\"count\":false,\"after\":\"$cursor\"}"
  fi
fi
measure 'for comparison, not asked by the console: table, last page by offset (counted)' getObjectListTable "{\"objectType\":\"Person\",\"properties\":$cols,\"offset\":$last,\"limit\":50}"
measure 'query with an error (QUERY_SYNTAX)' getObjectListByFilter '{"objectType":"Person","query":"age >> 30"}'
measure 'CSV export of page 1' getObjectListTable "{\"objectType\":\"Person\",\"properties\":$cols,\"limit\":50,\"count\":false,\"format\":\"csv\"}"
measure "object page: getObject" getObject "{\"objectId\":$id}"
measure "object page: getChildren (10, count=false)" getChildren "{\"objectId\":$id,\"limit\":10,\"count\":false}"
measure "object page: getParents (10, count=false)" getParents "{\"objectId\":$id,\"limit\":10,\"count\":false}"
measure "object page: count of children (limit 1)" getChildren "{\"objectId\":$id,\"limit\":1}"
measure "object page: count of parents (limit 1)" getParents "{\"objectId\":$id,\"limit\":1}"
measure 'Lookup search: Company name like "Company 12" (8, count=false)' getObjectListByFilter '{"objectType":"Company","query":"name like \"Company 12\"","limit":8,"count":false}'
measure "getList (List dropdown)" getList '{"listName":"PersonStatus"}'
measure "company's object page: getChildren (10, count=false)" getChildren "{\"objectId\":$company,\"limit\":10,\"count\":false}"
cafter=$(next_of getChildren "{\"objectId\":$company,\"limit\":10,\"count\":false}")
if [ -n "$cafter" ]; then
  measure "company's object page: getChildren, page 2 (after)" getChildren "{\"objectId\":$company,\"limit\":10,\"count\":false,\"after\":\"$cafter\"}"
fi
measure "company's object page: count of children (limit 1)" getChildren "{\"objectId\":$company,\"limit\":1}"
measure "history, first page (21 changes)" getHistory "{\"objectId\":$id,\"limit\":21}"
measure "history, second page (after)" getHistory "{\"objectId\":$id,\"after\":$after,\"limit\":21}"
cold=$(events_first_byte)
runs=$(for _ in 1 2 3 4 5; do events_first_byte; echo; done | sort -n)
printf '| live view: GET events, first byte | %.0f ms | %.0f ms |\n' "$(echo "$cold * 1000" | bc)" "$(echo "$(echo "$runs" | sed -n 3p) * 1000" | bc)"
