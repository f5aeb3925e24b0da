#!/usr/bin/env bash
# Import and export speed (issue 9): a generated export of N Person objects of 8 properties
# (scripts/gen_export.py) imported into a fresh SQLite database with `datastore import`,
# then exported again with `datastore export`; prints wall and CPU time, property rows/s,
# peak RSS and the load before and after each, and checks that the export gives the
# imported objects back.
#
#   scripts/bench-import.sh [--objects N] [--runs N] [--no-build]
#
# The generated file is kept in target/bench/ (people-N.jsonl) and reused.
set -euo pipefail

OBJECTS=1000000
RUNS=1
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --objects) OBJECTS="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
build_release
prepare_work import
mkdir -p "$ROOT/target/bench"
INPUT="$ROOT/target/bench/people-$OBJECTS.jsonl"
if [ ! -s "$INPUT" ]; then
  python3 "$ROOT/scripts/gen_export.py" "$OBJECTS" >"$INPUT.part"
  mv "$INPUT.part" "$INPUT"
fi
ROWS=$((OBJECTS * 8))
export DATASTORE_DSCONFIG="$ROOT/dsconfig"
echo "import/export: $(machine_line), $OBJECTS objects, $ROWS property rows"
timed() {
  local what="$1"; shift
  local load_before; load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" "$@" >"$WORK/out.log" 2>&1 || {
    tail -5 "$WORK/out.log" >&2; exit 1; }
  read -r wall user sys rss <"$WORK/time"
  printf '%-7s %7.1f s wall (%5.1f s user, %4.1f s sys), %8.0f rows/s, peak RSS %4d MB; load %s -> %s\n' \
    "$what" "$wall" "$user" "$sys" "$(awk -v r="$ROWS" -v w="$wall" 'BEGIN { print r / w }')" "$((rss / 1024))" \
    "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)"
}
for _ in $(seq 1 "$RUNS"); do
  rm -f "$WORK"/db*
  timed import "$BIN" import --database "sqlite://$WORK/db" --input "$INPUT"
  timed export "$BIN" export --database "sqlite://$WORK/db" --output "$WORK/out.jsonl"
  # The object lines come back byte for byte (the generator's last lines are spaced
  # differently).
  cmp -s <(sed -n "2,$((OBJECTS + 1))p" "$WORK/out.jsonl") <(sed -n "2,$((OBJECTS + 1))p" "$INPUT") \
    || { echo "the export differs from the imported file" >&2; exit 1; }
done
