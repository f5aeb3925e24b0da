#!/usr/bin/env bash
# Crash safety of the embedded store (issue 9): a client writes under load and logs every
# acknowledged write; the service is killed with SIGKILL at random moments and restarted;
# afterwards every acknowledged write must be in the database and PRAGMA integrity_check ok.
#
#   scripts/crash-test.sh [--synchronous normal|full] [--kills N] [--threads N] [--no-build]
#
# Prints "lost acknowledged writes: 0 over N kills" and exits 0 when nothing was lost.
# DATASTORE_BIN=path/to/datastore (with --no-build) tests another build, e.g. a debug one.
set -euo pipefail

SYNCHRONOUS=normal
KILLS=20
THREADS=16
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --synchronous) SYNCHRONOUS="$2"; shift 2 ;;
    --kills) KILLS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
build_release
WORK="$(mktemp -d -t datastore-crash-XXXXXX)"
PORT="${PORT:-$(free_port)}"
URL="http://127.0.0.1:$PORT"
DB="$WORK/crash.db"
LOG="$WORK/acked.log"
SERVER=""
CLIENT=""

cleanup() {
  [ -n "$CLIENT" ] && kill "$CLIENT" 2>/dev/null || true
  [ -n "$SERVER" ] && kill -9 "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start_server() {
  RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --database "sqlite://$DB" \
    --dsconfig "$WORK/no-dsconfig" --synchronous "$SYNCHRONOUS" >>"$WORK/server.log" 2>&1 &
  SERVER=$!
  wait_healthy "$URL" "$WORK/server.log" 200
}

echo "crash test: synchronous=$SYNCHRONOUS, $KILLS kills, $THREADS writer threads, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
start_server
python3 "$ROOT/scripts/crash_client.py" write "$URL" "$LOG" "$THREADS" &
CLIENT=$!
for kill in $(seq 1 "$KILLS"); do
  # A random moment between 0.3 and 2.3 s into the run.
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.3, 2.3), 2))')"
  kill -9 "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  echo "kill $kill: $(grep -c '^new ' "$LOG" || true) objects acknowledged so far"
  start_server
done
kill "$CLIENT"
wait "$CLIENT" || true
CLIENT=""
# The service is stopped once more, by SIGKILL as well, before the check reads the file.
kill -9 "$SERVER"
wait "$SERVER" 2>/dev/null || true
SERVER=""
python3 "$ROOT/scripts/crash_client.py" check "$DB" "$LOG" "$KILLS"
