#!/usr/bin/env bash
# The long fuzz run of docs/fuzzing.md: every target built by tests/fuzz/run.sh, all at
# once, for SECONDS of wall time each, at the lowest CPU priority (nice 19). A target that
# crashes keeps its reproducer (build/fuzz/long/artifacts-<name>/) and is started again
# on its grown corpus until the time is up. (libFuzzer's fork mode does the same, but
# re-reads the corpus for every job, which on a loaded machine costs most of the CPU.)
# The per-input timeout is 10 minutes: it is wall-clock time, and at nice 19 on a busy
# machine a few seconds of work can take minutes. The binaries are copied first, so
# rebuilding while it runs does not disturb it. At the end it prints, per target, the CPU
# time the target really used (user + system of all its runs, from /usr/bin/time), the
# executions, the corpus size and the reproducers written.
#
#   bash tests/fuzz/run.sh 5 && bash tests/fuzz/long_run.sh 3300
#   bash tests/fuzz/long_run.sh --report     # the table again, from the files of a run
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build/fuzz
LONG=$OUT/long

report() {
  local total=0 name cpu execs corpus crashes
  printf '%-11s %10s %12s %8s %8s\n' target cpu_s execs corpus findings
  for f in "$LONG"/*.time; do
    [[ -e $f ]] || continue
    name=$(basename "$f" .time)
    cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.0f", s }' "$f")
    # libFuzzer's final "Done N runs", summed over the restarts.
    execs=$(awk '/^Done [0-9]+ runs/ { n += $2 } END { print n + 0 }' "$LONG/$name.log")
    corpus=$(find "$LONG/corpus-$name" -type f | wc -l)
    # Findings: crashes (failed properties included), leaks, timeouts, out-of-memory.
    # "slow-unit-*" files are not counted: on a loaded machine they measure the load.
    crashes=$(find "$LONG/artifacts-$name" -type f \( -name 'crash-*' -o -name 'leak-*' \
      -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    printf '%-11s %10s %12s %8s %8s\n' "$name" "$cpu" "${execs:-?}" "$corpus" "$crashes"
    total=$((total + cpu))
  done
  printf '%-11s %10s\n' total "$total"
}

if [[ ${1:-} == --report ]]; then
  report
  exit 0
fi
SECONDS_EACH=${1:?usage: bash tests/fuzz/long_run.sh SECONDS | --report}
command -v /usr/bin/time >/dev/null || { echo "long_run: needs /usr/bin/time (Debian: time)" >&2; exit 1; }

mkdir -p "$LONG/bin"
pids=()
for bin in "$OUT"/*_fuzz; do
  name=$(basename "$bin" _fuzz)
  cp -f "$bin" "$LONG/bin/"
  mkdir -p "$LONG/corpus-$name" "$LONG/artifacts-$name"
  cp -f "$OUT/corpus-$name"/* "$LONG/corpus-$name"/ 2>/dev/null || true
  max_len=4096
  case $name in fastcgi | http1) max_len=70000 ;; jwt | body) max_len=9000 ;; esac
  # The loop restarts the target after a crash, for what is left of the time.
  (cd "$LONG" && exec nice -n 19 /usr/bin/time -v -o "$LONG/$name.time" bash -c '
    end=$((SECONDS + $1)); shift
    while ((SECONDS < end)); do
      "$@" -max_total_time=$((end - SECONDS)) && break
    done' long "$SECONDS_EACH" "$LONG/bin/${name}_fuzz" -max_len="$max_len" -timeout=600 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$LONG/artifacts-$name/" \
    "$LONG/corpus-$name" >"$LONG/$name.log" 2>&1) &
  pids+=($!)
done
echo "long_run: ${#pids[@]} targets for ${SECONDS_EACH}s each; logs in $LONG/"
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
report
exit "$status"
