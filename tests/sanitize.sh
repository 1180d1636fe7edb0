#!/usr/bin/env bash
# The sanitizer stage of tests/run.sh (docs/testing.md, "Sanitizers"): the whole project
# (cartgate, the example plugins, both test binaries) built again in build-asan with
# AddressSanitizer and UndefinedBehaviorSanitizer, then
#
#   1. the unit tests, with LeakSanitizer on;
#   2. the integration tests of build-asan, against the test stack with its worker pool
#      restarted from the sanitized binary and plugins (nginx, PostgreSQL, WordPress stay);
#      any sanitizer report, in a worker, the master, a CLI run or a test process, fails
#      the stage even when every test passed: reports go to files ($S/log/sanitizers/,
#      log_path), which are looked at afterwards;
#   3. the pool from build/ put back, so later stages see the stack as ctest did.
#
# Runs inside tests/run.sh's stage block (it needs the CARTGATE_TEST_* variables and the
# running stack):   stage sanitizers bash tests/sanitize.sh
# SANITIZE_CTEST_ARGS (e.g. "-R Refresh") narrows step 2, for working on this script.
#
# No suppressions: every report is a finding. UBSan does not recover
# (-fno-sanitize-recover), so a report also fails the process it happened in.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STACK=test
BUILD_DIR=$ROOT/build
source "$ROOT/deploy/local/common.sh"
RELEASE_BIN=$CARTGATE_BIN
ASAN_DIR=$ROOT/build-asan
ASAN_BIN=$ASAN_DIR/cartgate
[[ $S == "${CARTGATE_TEST_STATE:?run from tests/run.sh}" ]] ||
  die "state folder $S is not the test stack's ($CARTGATE_TEST_STATE)"
CONFIG=${CARTGATE_TEST_CONFIG:?run from tests/run.sh}
REPORTS=$S/log/sanitizers
SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

# ---- build ---------------------------------------------------------------------------
start=$SECONDS
say "building (ASan + UBSan) in $ASAN_DIR"
# -O1 -g: what the sanitizers' documentation recommends (readable stacks, tolerable speed).
cmake -S "$ROOT" -B "$ASAN_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DCMAKE_CXX_FLAGS="$SAN_FLAGS" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" >"$ROOT/var/cmake-configure-asan.log" 2>&1 ||
  { cat "$ROOT/var/cmake-configure-asan.log" >&2; die "cmake configure (build-asan) failed"; }
# The build lists the unit tests (gtest_discover_tests runs unit_tests); leaks are for
# step 1 to report, with the tests' output beside them, not for the listing.
ASAN_OPTIONS=detect_leaks=0 cmake --build "$ASAN_DIR" -j "$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\] (Building|Linking|Built)' || true
[[ ${PIPESTATUS[0]} -eq 0 ]] || die "the sanitized build failed"
[[ -x $ASAN_BIN ]] || die "the sanitized build produced no $ASAN_BIN"
say "sanitized build took $((SECONDS - start)) s"

rm -rf "$REPORTS"
mkdir -p "$REPORTS"
failed=0

# ---- 1. unit tests, with LeakSanitizer ---------------------------------------------
start=$SECONDS
say "unit tests (ASan + UBSan + LSan)"
# One test is left out, because what it measures is not there under the sanitizer:
# PasswordHash.WorkingMemoryIsGivenBackAfterEveryHash asserts that resident memory does
# not grow by argon2's working memory after a burst of hashes; under ASan the shadow of
# every mapping and the allocator's quarantine are resident too (it grew 13-16 MiB, with
# or without detect_stack_use_after_return), which says nothing about cartgate's memory.
# The ctest stage runs it, on the Release build.
# The unit tests run as one process here, not one per test as ctest runs them: the same
# tests, in 40 s instead of 5 minutes (every start of the sanitized binary costs about half
# a second), and LeakSanitizer then sees every test's allocations at one exit.
if ! ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     "$ASAN_DIR/unit_tests" --gtest_brief=1 \
       --gtest_filter='-PasswordHash.WorkingMemoryIsGivenBackAfterEveryHash'; then
  say "FAIL: unit tests under the sanitizers"
  failed=1
fi
say "unit tests took $((SECONDS - start)) s"

# ---- 2. integration tests against a sanitized pool ----------------------------------
# Reports to files (a worker's stderr is the pool's log, and a test process's is ctest's);
# the pid is added to each name. LeakSanitizer stays off here: workers leave by _exit(),
# which it never sees, and the CLI's and libraries' memory at exit is no finding.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:log_path=$REPORTS/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$REPORTS/ubsan"
export CARTGATE_TEST_BINARY=$ASAN_BIN

# The config names the plugin folder: build-asan's plugins for the sanitized binary
# (a sanitized plugin needs the sanitizer's runtime, which only the sanitized binary
# has). Put back, and the pool from build/ started again, whatever happens.
cp -p "$CONFIG" "$CONFIG.release"
restore() {
  local rc=$?
  trap - EXIT
  CARTGATE_BIN=$ASAN_BIN pool_down
  cp -p "$CONFIG.release" "$CONFIG" && rm -f "$CONFIG.release"
  unset ASAN_OPTIONS UBSAN_OPTIONS
  CARTGATE_BIN=$RELEASE_BIN pool_up
  wait_http "http://127.0.0.1:$CARTGATE_TEST_HTTP_PORT/wp-json/cartgate/v1/health"
  say "the pool from build/ is back"
  exit "$rc"
}
trap restore EXIT
sed -i -e "s|^directory = \"$BUILD_DIR/plugins\"|directory = \"$ASAN_DIR/plugins\"|" "$CONFIG"
grep -qx "directory = \"$ASAN_DIR/plugins\"" "$CONFIG" ||
  die "$CONFIG names no plugin folder of $BUILD_DIR to replace by $ASAN_DIR/plugins"

start=$SECONDS
pool_down
CARTGATE_BIN=$ASAN_BIN pool_up
wait_http "http://127.0.0.1:$CARTGATE_TEST_HTTP_PORT/wp-json/cartgate/v1/health"
say "integration tests against the sanitized pool (pid $(pool_pid))"
# shellcheck disable=SC2086
if ! ctest --test-dir "$ASAN_DIR" -L integration --output-on-failure ${SANITIZE_CTEST_ARGS:-}; then
  say "FAIL: integration tests against the sanitized pool"
  failed=1
fi
# The pool stops first, so a report written on its way out is in too.
CARTGATE_BIN=$ASAN_BIN pool_down
say "integration tests took $((SECONDS - start)) s"

# ---- reports -----------------------------------------------------------------------
shopt -s nullglob
reports=("$REPORTS"/*)
shopt -u nullglob
if ((${#reports[@]})); then
  say "FAIL: ${#reports[@]} sanitizer report(s):"
  for f in "${reports[@]}"; do
    printf '==== %s\n' "$f" >&2
    head -n 60 "$f" >&2
  done
  failed=1
fi
# A report the runtime could not write to its file lands on stderr: the pool's log.
if grep -nE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: ' "$S/log/cartgate.log" "$S/log/pool-b.log" 2>/dev/null; then
  say "FAIL: sanitizer output in the pool's log"
  failed=1
fi
((failed == 0)) && say "no sanitizer report"
exit "$failed"
