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
set -euo pipefail
db=${1:?the SQLite database of the query bench}
people=${2:-1000000}
bin=${DATASTORE_BIN:-target/release/datastore}
port=${PORT:-18089}
base="http://127.0.0.1:$port"

"$bin" serve --database "sqlite://$db" --listen "127.0.0.1:$port" --dsconfig dsconfig \
  >/tmp/console-bench-serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "$base/health" >/dev/null 2>&1 && break; sleep 0.1; done

time_of() { curl -s -o /dev/null -w '%{time_total}' -H 'Content-Type: application/json' -d "$2" "$base/$1"; }

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
measure 'table, page 1 (50 rows, 8 columns)' getObjectListTable "{\"objectType\":\"Person\",\"properties\":$cols,\"limit\":50}"
measure 'table, page 2' getObjectListTable "{\"objectType\":\"Person\",\"properties\":$cols,\"offset\":50,\"limit\":50}"
measure 'table, last page' getObjectListTable "{\"objectType\":\"Person\",\"properties\":$cols,\"offset\":$last,\"limit\":50}"
measure 'table sorted by age DESC, page 1' getObjectListTable "{\"objectType\":\"Person\",\"properties\":$cols,\"orderBy\":[\"age DESC\"],\"limit\":50}"
measure 'table sorted by lastName, page 1' getObjectListTable "{\"objectType\":\"Person\",\"properties\":$cols,\"orderBy\":[\"lastName\"],\"limit\":50}"
measure 'filter lastName = Doe, page 1' getObjectListTable "{\"objectType\":\"Person\",\"properties\":$cols,\"filter\":{\"lastName\":\"Doe\"},\"limit\":50}"
measure 'query age > 30 and lastName == "Doe" order by age, page 1' getObjectListByFilter "{\"objectType\":\"Person\",\"properties\":$cols,\"query\":\"age > 30 and lastName == \\\"Doe\\\" order by age\",\"limit\":50}"
measure 'query and a filter row as one query, page 1' getObjectListByFilter "{\"objectType\":\"Person\",\"properties\":$cols,\"query\":\"(age > 30) and lastName == \\\"Doe\\\" order by age\",\"limit\":50}"
measure 'query with an error (QUERY_SYNTAX)' getObjectListByFilter '{"objectType":"Person","query":"age >> 30"}'
measure 'CSV export of page 1' getObjectListTable "{\"objectType\":\"Person\",\"properties\":$cols,\"limit\":50,\"format\":\"csv\"}"
measure "object page: getObject" getObject "{\"objectId\":$id}"
measure "object page: getChildren (10)" getChildren "{\"objectId\":$id,\"limit\":10}"
measure "object page: getParents (10)" getParents "{\"objectId\":$id,\"limit\":10}"
measure 'Lookup search: Company name like "Company 12" (8)' getObjectListByFilter '{"objectType":"Company","query":"name like \"Company 12\"","limit":8}'
measure "getList (List dropdown)" getList '{"listName":"PersonStatus"}'
measure "company's object page: getChildren (10)" getChildren "{\"objectId\":$company,\"limit\":10}"
measure "history, first page (21 changes)" getHistory "{\"objectId\":$id,\"limit\":21}"
measure "history, second page (after)" getHistory "{\"objectId\":$id,\"after\":$after,\"limit\":21}"
cold=$(events_first_byte)
runs=$(for _ in 1 2 3 4 5; do events_first_byte; echo; done | sort -n)
printf '| live view: GET events, first byte | %.0f ms | %.0f ms |\n' "$(echo "$cold * 1000" | bc)" "$(echo "$(echo "$runs" | sed -n 3p) * 1000" | bc)"
