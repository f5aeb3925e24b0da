#!/usr/bin/env bash
# The write hot paths (issue 9) in alternating A/B rounds: saveProperty (random objects of
# 10,000) and newObject (8 properties), each run on a fresh copy of one 10,000-Person
# database, with req/s, p50/p99 and the CPU each thread of the service spent per request
# (from /proc/PID/task/*/stat: the writer thread is `sqlite-writer`). CPU per request is the
# figure to compare while the machine is loaded; req/s only when it is quiet.
#
#   scripts/bench-writes.sh [--rounds N] [--duration SECONDS] [--lookups] BINARY...
#
# --lookups adds two workloads that write a Lookup (`company`, to one of 100 companies the
# base database gets): saveLookup (saveProperty of it) and newObjectLookup (newObject with
# it), each moving a Lookup count (docs/QUERY.md, "Counts per Lookup target").
#
# Logs at `info` into a file, group commit, `--synchronous normal`, wrk -t2 -c64, as
# scripts/bench.sh runs them. Prints one line per run, with the load at its end.
set -euo pipefail

ROUNDS=3
DURATION=8
WORKLOADS="saveProperty newObject"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --lookups) WORKLOADS="$WORKLOADS saveLookup newObjectLookup"; shift ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--rounds N] [--duration SECONDS] BINARY..." >&2; exit 2; }
BINARIES=()
for b in "$@"; do BINARIES+=("$(realpath "$b")"); done

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
prepare_work writes
BIN="${BINARIES[0]}"
export DATASTORE_DATABASE_URL="sqlite://$WORK/base.db" DATASTORE_DSCONFIG="$ROOT/dsconfig"
load_people 10000
if [[ "$WORKLOADS" == *Lookup* ]]; then
  # 100 companies after the people (ids 10001-10100), made by the first binary.
  RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" \
    --database "sqlite://$WORK/base.db" >"$WORK/server.log" 2>&1 &
  SERVER=$!
  wait_healthy "http://127.0.0.1:$PORT" "$WORK/server.log"
  for c in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/newObject" -H 'Content-Type: application/json' \
      -d "{\"objectType\":\"Company\",\"properties\":{\"name\":\"Company $c\"}}" >/dev/null
  done
  kill "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  SERVER=""
fi
echo "$(machine_line)" >&2

HZ=$(getconf CLK_TCK)
# CPU ticks of the service's threads, summed by thread name: "name ticks".
ticks() {
  for t in /proc/"$1"/task/*; do
    echo "$(tr ' ' _ <"$t/comm") $(awk '{print $14 + $15}' "$t/stat")"
  done | awk '{a[$1] += $2} END {for (k in a) print k, a[k]}'
}

run() {
  local bin="$1" workload="$2" script
  case "$workload" in
    saveProperty) script=save_property.lua ;;
    newObject) script=new_object.lua ;;
    saveLookup) script=save_company.lua ;;
    newObjectLookup) script=new_object_company.lua ;;
  esac
  rm -f "$WORK"/run.db*
  cp "$WORK/base.db" "$WORK/run.db"
  # The import's last pages may still be in its WAL.
  if [ -f "$WORK/base.db-wal" ]; then cp "$WORK/base.db-wal" "$WORK/run.db-wal"; fi
  RUST_LOG=info "$bin" serve --listen "127.0.0.1:$PORT" \
    --database "sqlite://$WORK/run.db" >"$WORK/server.log" 2>&1 &
  SERVER=$!
  wait_healthy "http://127.0.0.1:$PORT" "$WORK/server.log"
  ticks "$SERVER" >"$WORK/cpu0"
  local out
  out=$(FIRST=1 OBJECTS=10000 wrk -t2 -c64 -d"${DURATION}s" --latency \
    -s "scripts/wrk/$script" "http://127.0.0.1:$PORT")
  ticks "$SERVER" >"$WORK/cpu1"
  kill "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  SERVER=""
  local n rps p50 p99 bad
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ {printf "%d", $2}' <<<"$out")
  p50=$(awk '/^ +50%/ {print $2}' <<<"$out")
  p99=$(awk '/^ +99%/ {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
  # µs of CPU per request: the writer thread, and every thread of the service.
  local per
  per=$(awk -v n="$n" -v hz="$HZ" 'NR == FNR {a[$1] = $2; next}
    {d = $2 - a[$1]; all += d; if ($1 == "sqlite-writer") w = d}
    END {printf "writer %d µs, service %d µs", w * 1e6 / hz / n, all * 1e6 / hz / n}' \
    "$WORK/cpu0" "$WORK/cpu1")
  printf '%s %s: %s req/s, p50 %s, p99 %s, non-2xx %s, CPU per request: %s, load %s\n' \
    "$(basename "$bin")" "$workload" "$rps" "$p50" "$p99" "${bad:-0}" "$per" \
    "$(cut -d' ' -f1 /proc/loadavg)"
}

for round in $(seq 1 "$ROUNDS"); do
  for workload in $WORKLOADS; do
    for bin in "${BINARIES[@]}"; do
      echo -n "round $round: "
      run "$bin" "$workload"
    done
  done
done
