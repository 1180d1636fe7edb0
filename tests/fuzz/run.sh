#!/usr/bin/env bash
# Coverage-guided fuzzing of the two byte-level parsers in lib/wire/ (FastCGI and the
# HTTP/1.1 auth socket) with libFuzzer + ASan + UBSan: builds tests/fuzz/*_fuzz.cc into
# build/fuzz/, then runs each target for SECONDS on a copy of its seed corpus
# (build/fuzz/corpus-<name>, so the checked-in seeds under tests/fuzz/corpus/ are never
# rewritten; the copy keeps growing across runs). Crash reproducers land in
# build/fuzz/artifacts-<name>/, full logs in build/fuzz/<name>.log.
#
#   bash tests/fuzz/run.sh 30        # 30 s per target (default 60, or FUZZ_SECONDS)
#   build/fuzz/fastcgi_fuzz build/fuzz/artifacts-fastcgi/crash-…   # replay one input
#
# Needs clang++ with libFuzzer's runtime (Debian: clang, libclang-rt-dev); when missing
# they are installed with apt-get, as root or through sudo, as deploy/deps.sh does. The
# project's own libraries (jsoncpp, OpenSSL) come from deploy/deps.sh. Not part of
# tests/run.sh or CI: a fuzz run is open-ended and its result depends on the time given.
# Exit status: non-zero when any target crashed (every target is still run).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build/fuzz
SECONDS_PER_TARGET=${1:-${FUZZ_SECONDS:-60}}
TARGETS=(fastcgi http1)

if ! [[ $SECONDS_PER_TARGET =~ ^[0-9]+$ ]] || ((SECONDS_PER_TARGET == 0)); then
  echo "usage: bash tests/fuzz/run.sh [seconds per target]" >&2
  exit 2
fi

# clang++ alone is not enough: without libclang-rt-dev, -fsanitize=fuzzer fails to link.
fuzzer_runtime_present() {
  compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a" >/dev/null
}
if ! command -v clang++ >/dev/null || ! fuzzer_runtime_present; then
  echo "fuzz: installing clang and libclang-rt-dev"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine has no package lists yet; update once, then install.
  if ! $SUDO apt-get install -y --no-install-recommends clang libclang-rt-dev >/tmp/cartgate-fuzz-apt.log 2>&1; then
    $SUDO apt-get update >>/tmp/cartgate-fuzz-apt.log 2>&1
    $SUDO apt-get install -y --no-install-recommends clang libclang-rt-dev >>/tmp/cartgate-fuzz-apt.log 2>&1 ||
      { tail -n 30 /tmp/cartgate-fuzz-apt.log >&2; exit 1; }
  fi
fi
if ! pkg-config --exists jsoncpp; then
  echo "fuzz: jsoncpp not found; run deploy/deps.sh first" >&2
  exit 1
fi

mkdir -p "$OUT"
# lib/http/message.cc (http1's request type) pulls in jsoncpp and OpenSSL's base64, and
# lib/base/text.cc the ASCII helpers both codecs use.
SOURCES=("$ROOT"/lib/wire/*.cc "$ROOT/lib/http/message.cc" "$ROOT/lib/base/text.cc")
read -r -a JSON_CFLAGS <<<"$(pkg-config --cflags jsoncpp)"
read -r -a JSON_LIBS <<<"$(pkg-config --libs jsoncpp)"

# The 64 KiB bounds (head, body, STDIN kept, one record's content) are out of reach of
# mutations that start from small seeds within a short run, so seeds just past them are
# written here instead of being checked in. Byte 0 is the harness's chunk control (0x80:
# 1 KiB chunks).
pad() { head -c "$1" /dev/zero | tr '\0' "$2"; }
big_seeds() {
  local name=$1 dir=$2
  case $name in
    fastcgi)
      # BEGIN_REQUEST (keep-conn), empty PARAMS, STDIN of 65535 + 1000 bytes, empty STDIN:
      # the body is cut at the 64 KiB limit, and encode_response needs two records.
      {
        printf '\x80\x01\x01\x00\x01\x00\x08\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00'
        printf '\x01\x04\x00\x01\x00\x00\x00\x00'
        printf '\x01\x05\x00\x01\xff\xff\x01\x00'; pad 65535 b; printf '\x00'
        printf '\x01\x05\x00\x01\x03\xe8\x00\x00'; pad 1000 c
        printf '\x01\x05\x00\x01\x00\x00\x00\x00'
      } >"$dir/big_stdin"
      ;;
    http1)
      { printf '\x80GET / HTTP/1.1\r\nX-Pad: '; pad 65520 a; printf '\r\n\r\n'; } >"$dir/big_head"
      { printf '\x80POST / HTTP/1.1\r\nContent-Length: 65536\r\n\r\n'; pad 65536 b; } >"$dir/big_body"
      ;;
  esac
}

# Line and branch coverage of lib/wire/ reached by the corpus, from a second build with
# clang's source-based coverage; skipped when llvm-cov is not installed (it only reports).
coverage_report() {
  local name=$1 corpus=$2
  local bin=$OUT/cov/${name}_cov
  if ! command -v llvm-profdata >/dev/null || ! command -v llvm-cov >/dev/null; then
    echo "  (no llvm-cov: coverage report skipped)"
    return 0
  fi
  mkdir -p "$OUT/cov"
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
    -I"$ROOT/lib" "${JSON_CFLAGS[@]}" "$ROOT/tests/fuzz/${name}_fuzz.cc" "${SOURCES[@]}" \
    "${JSON_LIBS[@]}" -lcrypto -o "$bin"
  rm -f "$OUT/cov/$name.profraw"
  LLVM_PROFILE_FILE=$OUT/cov/$name.profraw "$bin" -runs=0 "$corpus" >/dev/null 2>&1 || true
  llvm-profdata merge -sparse "$OUT/cov/$name.profraw" -o "$OUT/cov/$name.profdata"
  llvm-cov report "$bin" -instr-profile="$OUT/cov/$name.profdata" "$ROOT/lib/wire/$name.cc" |
    awk 'NR == 1 || /wire/ { print "  " $0 }'
  echo "  uncovered lines: llvm-cov show $bin -instr-profile=$OUT/cov/$name.profdata $ROOT/lib/wire/$name.cc"
}

status=0
summary=()
for name in "${TARGETS[@]}"; do
  bin=$OUT/${name}_fuzz
  echo "fuzz: building $bin"
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$ROOT/lib" "${JSON_CFLAGS[@]}" \
    "$ROOT/tests/fuzz/${name}_fuzz.cc" "${SOURCES[@]}" \
    "${JSON_LIBS[@]}" -lcrypto -o "$bin"

  corpus=$OUT/corpus-$name
  artifacts=$OUT/artifacts-$name/
  mkdir -p "$corpus" "$artifacts"
  # Seeds are refreshed, what earlier runs found is kept: re-running resumes, not restarts.
  cp -f "$ROOT/tests/fuzz/corpus/$name"/* "$corpus"/
  big_seeds "$name" "$corpus"
  log=$OUT/$name.log

  echo "fuzz: running $name for ${SECONDS_PER_TARGET}s (log: $log)"
  # -timeout: an input slower than this is itself a finding (a quadratic parser is a
  # denial of service), reported like a crash. libFuzzer's progress lines go to the log;
  # every 10th is echoed so a long run shows it is alive.
  set +e
  "$bin" "$corpus" -max_total_time="$SECONDS_PER_TARGET" -max_len=70000 -timeout=25 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$artifacts" 2>&1 |
    tee "$log" | awk '/pulse|NEW/ { if (++n % 10 == 1) print "  " $0; fflush() }
                      /ERROR|SUMMARY|Test unit written|Done / { print "  " $0; fflush() }'
  rc=${PIPESTATUS[0]}
  set -e

  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  execs=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)
  if ((rc != 0)); then
    status=1
    summary+=("$name: CRASHED (exit $rc); reproducer: $(grep -o 'Test unit written to .*' "$log" | sed 's/Test unit written to //' | tail -n 1)")
  else
    summary+=("$name: ok, ${execs:-?} exec/s; last: ${last:-none}")
  fi
  echo "fuzz: coverage of lib/wire/$name.cc by $corpus"
  coverage_report "$name" "$corpus"
done

echo "fuzz: summary"
printf '  %s\n' "${summary[@]}"
exit "$status"
