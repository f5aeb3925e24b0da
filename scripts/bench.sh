#!/usr/bin/env bash
# One-command benchmark (issue 9): builds release, starts the service on a fresh database,
# loads data with a generator (scripts/gen_export.py through `datastore import`), drives each
# workload with wrk and prints one table: req/s, p50 and p99 per workload, GET /health in
# the same run as the HTTP ceiling (actix-web alone answering the same bytes,
# examples/bare_actix.rs), and the peak RSS (VmHWM) of the service.
#
#   scripts/bench.sh [--objects N] [--duration SECONDS] [--connections N]
#                    [--database mssql://...] [--no-build] [--log-level info]
#
# Defaults: 250,000 Person objects, 10 s per workload, 64 connections (the table view and
# getAggregate run with 4, as in the issue), logs on at `info` (as users run it), into a file.
# With --database mssql://..., the same runs against SQL Server: the database named there is
# used and its data REPLACED by the generated data.
set -euo pipefail

OBJECTS=250000
DURATION=10
CONNECTIONS=64
DATABASE=""
BUILD=1
LOG_LEVEL=info
while [ $# -gt 0 ]; do
  case "$1" in
    --objects) OBJECTS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --database) DATABASE="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --log-level) LOG_LEVEL="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
if ! command -v wrk >/dev/null; then
  echo "wrk is missing: installing Debian's package" >&2
  apt-get install -y wrk >&2
fi
build_release
if [ "${BUILD:-1}" = 1 ]; then
  cargo build --release --locked --example bare_actix >&2
fi
BARE="$ROOT/target/release/examples/bare_actix"
prepare_work bench
[ -n "$DATABASE" ] || DATABASE="sqlite://$WORK/bench.db"
URL="http://127.0.0.1:$PORT"

export DATASTORE_DATABASE_URL="$DATABASE" DATASTORE_DSCONFIG="$ROOT/dsconfig"

echo "generating $OBJECTS Person objects (8 properties each)" >&2
python3 "$ROOT/scripts/gen_export.py" "$OBJECTS" >"$WORK/people.jsonl"
start=$(date +%s.%N)
"$BIN" import --input "$WORK/people.jsonl" --replace >&2
import_s=$(python3 -c "import time; print(round(time.time() - $start, 2))")
rows=$((OBJECTS * 8))
# The projections, built now rather than by `serve` in the background while the workloads
# run (an import into a new database does not apply the DSConfig; until they are complete
# the queries read the EAV rows).
"$BIN" dsconfig apply "$ROOT/dsconfig" >&2

RUST_LOG="$LOG_LEVEL" "$BIN" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
wait_healthy "$URL" "$WORK/server.log"

ROWS=()
HOT=$((OBJECTS < 10000 ? OBJECTS : 10000))
# run NAME CONNECTIONS [wrk args...]: one workload, one row of the table.
run() {
  local name="$1" conns="$2"
  shift 2
  local out
  out=$(wrk -t2 -c"$conns" -d"${DURATION}s" --latency "$@")
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec:/ {printf "%d", $2}' <<<"$out")
  p50=$(awk '/^ +50%/ {print $2}' <<<"$out")
  p99=$(awk '/^ +99%/ {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
  local errors
  errors=$(awk '/Socket errors:/ {print $0}' <<<"$out")
  ROWS+=("$(printf '| %s | %s | %s | %s | %s |' "$name" "$rps" "$p50" "$p99" "${bad:-0}${errors:+ ($errors)}")")
  echo "done: $name ($rps req/s)" >&2
}

FIRST=1 OBJECTS="$HOT" run "getObject, random of 10,000" "$CONNECTIONS" -s scripts/wrk/get_object.lua "$URL"
FIRST=1 OBJECTS="$OBJECTS" run "getObject, random of all" "$CONNECTIONS" -s scripts/wrk/get_object.lua "$URL"
run "table view, 1 filter, numeric order, 50 rows, c4" 4 -s scripts/wrk/table_view.lua "$URL"
run "getAggregate, 1 filter, by status, 5 aggregates, c4" 4 -s scripts/wrk/aggregate.lua "$URL"
run "GET /health" "$CONNECTIONS" "$URL/health"
# The ceiling of this machine: actix-web alone, the same answer and headers, no logs.
if [ -x "$BARE" ]; then
  BARE_PORT="$(free_port)"
  BARE_HEADERS=1 "$BARE" "127.0.0.1:$BARE_PORT" >/dev/null 2>&1 &
  BARE_PID=$!
  wait_healthy "http://127.0.0.1:$BARE_PORT" /dev/null
  run "GET /health of bare actix-web (examples/bare_actix.rs: the ceiling)" "$CONNECTIONS" "http://127.0.0.1:$BARE_PORT/health"
  kill "$BARE_PID" 2>/dev/null || true
  wait "$BARE_PID" 2>/dev/null || true
else
  echo "no $BARE (cargo build --release --example bare_actix): the ceiling row is left out" >&2
fi
FIRST=1 OBJECTS="$HOT" run "saveProperty, random of 10,000" "$CONNECTIONS" -s scripts/wrk/save_property.lua "$URL"
run "newObject, 8 properties" "$CONNECTIONS" -s scripts/wrk/new_object.lua "$URL"

status=$(cat "/proc/$SERVER/status")
kb() { awk -v k="$1:" '$1 == k {print $2}' <<<"$status"; }
mb() { python3 -c "print(round($1 / 1024))"; }
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo
echo "datastore bench: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit$(git diff --quiet 2>/dev/null || echo '+changes'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "database: ${DATABASE%%\?*} ($(sed 's/:.*//' <<<"$DATABASE")), $OBJECTS objects loaded by import in ${import_s} s ($(python3 -c "print(round($rows / $import_s))") property rows/s)"
echo "wrk: 2 threads, $CONNECTIONS connections (table view, getAggregate: 4), ${DURATION} s each, loopback; logs at $LOG_LEVEL to a file"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| workload | req/s | p50 | p99 | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: |"
printf '%s\n' "${ROWS[@]}"
echo
echo "peak RSS (VmHWM): $(mb "$(kb VmHWM)") MB; at the end: RssAnon $(mb "$(kb RssAnon)") MB, RssFile $(mb "$(kb RssFile)") MB, $(kb Threads) threads"
if [ "${DATABASE#sqlite://}" != "$DATABASE" ]; then
  echo "database file: $(du -m "${DATABASE#sqlite://}" | cut -f1) MB (+ WAL $(du -m "${DATABASE#sqlite://}-wal" 2>/dev/null | cut -f1 || echo 0) MB)"
fi
