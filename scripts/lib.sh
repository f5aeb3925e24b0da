# Shared by the scripts that build and start the service (bench.sh, crash-test.sh,
# soak.sh): source it after `set -euo pipefail`.
#
#   ROOT               the repository (the working directory becomes it)
#   build_release      cargo build --release of the binary, unless BUILD=0
#   BIN                the binary: $DATASTORE_BIN, else target/release/datastore
#   free_port          prints a free TCP port on 127.0.0.1
#   wait_healthy URL LOG [TRIES]
#                      waits until URL/health answers (every 0.05 s, 400 tries by default);
#                      otherwise prints the end of LOG and exits 1
#   machine_line       date, commit, cores, memory and load, for the figures' header
#   prepare_work NAME  WORK (a fresh temporary directory), PORT (free) and SERVER (empty;
#                      set it to the service's pid): both go at exit
#   load_people N      N generated Person objects of 8 properties, imported into
#                      $DATASTORE_DATABASE_URL

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${DATASTORE_BIN:-$ROOT/target/release/datastore}"

build_release() {
  if [ "${BUILD:-1}" = 1 ]; then
    cargo build --release --locked --bin datastore >&2
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_healthy() {
  local url="$1" log="$2" tries="${3:-400}"
  for _ in $(seq 1 "$tries"); do
    if python3 -c "import urllib.request; urllib.request.urlopen('$url/health', timeout=1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  echo "the service did not start; its log:" >&2
  tail -20 "$log" >&2
  exit 1
}

machine_line() {
  local commit
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  git diff --quiet 2>/dev/null || commit="$commit+changes"
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit, $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
}

prepare_work() {
  WORK="$(mktemp -d -t "datastore-$1-XXXXXX")"
  PORT="$(free_port)"
  SERVER=""
  trap 'stop_and_clean' EXIT
}

stop_and_clean() {
  if [ -n "${SERVER:-}" ]; then
    kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}

load_people() {
  python3 "$ROOT/scripts/gen_export.py" "$1" >"$WORK/people.jsonl"
  "$BIN" import --input "$WORK/people.jsonl" >&2
  # The projections complete before the service starts (see bench.sh).
  "$BIN" dsconfig apply "$ROOT/dsconfig" >&2
}
