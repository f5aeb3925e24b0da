#!/usr/bin/env bash
# Soak test (issue 9): mixed load (reads, writes, table views, queries, uploads, relationship
# changes) against a fresh database for --seconds (default 600), the service's RSS sampled every
# 10 s, and the size of the SQLite WAL (`soak.db-wal`) with it. Before those seconds come
# --warmup seconds (default 300) of the same load that are not measured: the bounded caches
# fill over the first minutes (docs/BENCHMARKS.md, "Soak"). Fails on any non-200 answer, when the
# measured window's RSS grows (second half > 10 % above the first, or a least-squares trend
# over the window > 5 % of its mean), or when the WAL grows without bound (still growing in
# the last third, or never started over in the second half).
#
#   scripts/soak.sh [--seconds N] [--warmup N] [--threads N] [--objects N] [--no-build]
set -euo pipefail

SECONDS_TOTAL=600
WARMUP=300
THREADS=8
OBJECTS=50000
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_TOTAL="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --objects) OBJECTS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
build_release
prepare_work soak
export DATASTORE_DATABASE_URL="sqlite://$WORK/soak.db" DATASTORE_DSCONFIG="$ROOT/dsconfig"
load_people "$OBJECTS"
RUST_LOG=info "$BIN" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
wait_healthy "http://127.0.0.1:$PORT" "$WORK/server.log"
echo "soak: $(machine_line), $OBJECTS objects"
python3 "$ROOT/scripts/soak_client.py" "http://127.0.0.1:$PORT" "$SERVER" "$SECONDS_TOTAL" "$THREADS" "$WORK/soak.db" \
  --warmup "$WARMUP"
echo "server log: $(grep -c ' ERROR ' "$WORK/server.log" || true) ERROR lines, $(grep -c 'panicked' "$WORK/server.log" || true) panics; load $(cut -d' ' -f1-3 /proc/loadavg)"
