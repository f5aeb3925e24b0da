#!/bin/sh
# saveProperty throughput over HTTP (docs/BENCHMARKS.md, "Change log cost").
# Usage: benches/http/save_property.sh BINARY [SECONDS] [OBJECTS]
# Starts BINARY serve on a fresh SQLite database, creates OBJECTS Person objects, then runs
# wrk (4 connections, 2 threads) posting saveProperty of `age` to random objects.
set -eu
BIN=$1; SECONDS_=${2:-20}; OBJECTS=${3:-1000}
DIR=$(mktemp -d); PORT=$((20000 + $$ % 20000))
"$BIN" serve --listen 127.0.0.1:$PORT --database "sqlite://$DIR/d.db" \
  --dsconfig "$(dirname "$0")/../../dsconfig" --log-format json 2>"$DIR/log" &
PID=$!
trap 'kill $PID; rm -rf "$DIR"' EXIT
until curl -sf "127.0.0.1:$PORT/health" >/dev/null; do sleep 0.2; done
i=0
while [ $i -lt "$OBJECTS" ]; do
  curl -sf "127.0.0.1:$PORT/newObject" -H 'Content-Type: application/json' \
    -d '{"objectType":"Person","properties":{"firstName":"P","age":1}}' >/dev/null
  i=$((i + 1))
done
cat >"$DIR/save.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local id = math.random(1, $OBJECTS)
  return wrk.format(nil, "/saveProperty", nil,
    '{"objectId":' .. id .. ',"propertyName":"age","propertyValue":' .. math.random(1, 99) .. '}')
end
LUA
uptime
wrk -t2 -c4 -d"${SECONDS_}s" -s "$DIR/save.lua" "http://127.0.0.1:$PORT" | grep -E "Requests/sec|Latency|Non-2xx"
