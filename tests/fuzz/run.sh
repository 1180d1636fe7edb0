#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser cartgate feeds untrusted or operator-written
# bytes to, with libFuzzer + ASan + UBSan: the transports (fastcgi, http1), JWS verify
# (jwt: HS256, RS256, ES256, keyring), JSON and form bodies (body), Authorization Basic
# and Bearer (basic_auth), X-Forwarded-For (client_ip), the tor-geoipdb loader (geo_db),
# the option validators (options), the users CSV import (csv), base32 keys, otpauth URIs
# and codes (totp), semver and the login windows (schedule). The lib/ sources they need
# are compiled once into build/fuzz/obj/ (through ccache when it is installed), then each
# tests/fuzz/<name>_fuzz.cc is linked into build/fuzz/<name>_fuzz and run for SECONDS on
# a copy of its seed corpus (build/fuzz/corpus-<name>, so the checked-in seeds under
# tests/fuzz/corpus/ are never rewritten; the copy keeps growing across runs). Crash
# reproducers land in build/fuzz/artifacts-<name>/, full logs in build/fuzz/<name>.log.
#
#   bash tests/fuzz/run.sh 30             # 30 s per target (default 60, or FUZZ_SECONDS)
#   FUZZ_TARGETS="jwt csv" bash tests/fuzz/run.sh 30      # only these targets
#   FUZZ_COVERAGE=1 bash tests/fuzz/run.sh 30             # + llvm-cov report per target
#   build/fuzz/jwt_fuzz build/fuzz/artifacts-jwt/crash-…  # replay one input
#
# Needs clang++ with libFuzzer's runtime (Debian: clang, libclang-rt-dev); when missing
# they are installed with apt-get, as root or through sudo, as deploy/deps.sh does. The
# project's own libraries (jsoncpp, OpenSSL, libmaxminddb, liboath, libqrencode, date)
# come from deploy/deps.sh. CI runs it as the `fuzz` stage of tests/run.sh, 10 s a target;
# docs/fuzzing.md has the long run and how to repeat it.
# Exit status: non-zero when any target crashed (every target is still run).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build/fuzz
SECONDS_PER_TARGET=${1:-${FUZZ_SECONDS:-60}}
ALL_TARGETS=(fastcgi http1 jwt body basic_auth client_ip geo_db options csv totp semver schedule)
read -r -a TARGETS <<<"${FUZZ_TARGETS:-${ALL_TARGETS[*]}}"

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

mkdir -p "$OUT/obj"
# The lib/ sources the targets reach; each is self-contained below lib/ (no database, no
# sockets), so one archive serves every target and the linker takes what each one uses.
SOURCES=("$ROOT"/lib/wire/*.cc lib/http/message.cc lib/http/client_ip.cc lib/base/text.cc
  lib/base/csv.cc lib/crypto/jwt.cc lib/crypto/base64url.cc lib/crypto/totp.cc
  lib/crypto/random.cc lib/rules/geo_db.cc lib/policy/options.cc lib/policy/country_codes.cc
  lib/policy/schedule.cc lib/policy/semver.cc)
read -r -a JSON_CFLAGS <<<"$(pkg-config --cflags jsoncpp)"
read -r -a JSON_LIBS <<<"$(pkg-config --libs jsoncpp)"
CXXFLAGS=(-std=c++20 -O1 -g -I"$ROOT/lib" "${JSON_CFLAGS[@]}" -DUSE_OS_TZDB=1 -DONLY_C_LOCALE=1
  -DHAS_STRING_VIEW=1)
SANITIZE=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
LIBS=("${JSON_LIBS[@]}" -ldate-tz -lmaxminddb -loath -lqrencode -lcrypto -lpthread)
CXX=(clang++)
if command -v ccache >/dev/null; then CXX=(ccache clang++); fi

# build_objects DIR FLAGS...: every SOURCES file into DIR/, FUZZ_JOBS (2) at a time;
# prints the objects, fails when any did not compile. (Flags and paths hold no spaces.)
build_objects() {
  local dir=$1; shift
  mkdir -p "$dir"
  local src
  local pairs=()
  for src in "${SOURCES[@]}"; do
    src=${src#"$ROOT"/}
    pairs+=("$ROOT/$src" "$dir/$(echo "${src%.cc}" | tr / _).o")
  done
  printf '%s\0' "${pairs[@]}" | FUZZ_COMPILE="${CXX[*]} $*" xargs -0 -n 2 -P "${FUZZ_JOBS:-2}" \
    sh -c '$FUZZ_COMPILE -c "$0" -o "$1"' >&2 || return 1
  local i
  for ((i = 1; i < ${#pairs[@]}; i += 2)); do echo "${pairs[i]}"; done
}

echo "fuzz: compiling lib/ into $OUT/obj"
OBJECTS_LIST=$(build_objects "$OUT/obj" "${CXXFLAGS[@]}" \
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined) ||
  { echo "fuzz: compiling lib/ failed" >&2; exit 1; }
mapfile -t OBJECTS <<<"$OBJECTS_LIST"

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
  local cov_list cov_objs
  cov_list=$(build_objects "$OUT/cov/obj" "${CXXFLAGS[@]}" -fsanitize=fuzzer-no-link \
    -fprofile-instr-generate -fcoverage-mapping) || return 1
  mapfile -t cov_objs <<<"$cov_list"
  "${CXX[@]}" "${CXXFLAGS[@]}" -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
    "$ROOT/tests/fuzz/${name}_fuzz.cc" "${cov_objs[@]}" "${LIBS[@]}" -o "$bin"
  rm -f "$OUT/cov/$name.profraw"
  LLVM_PROFILE_FILE=$OUT/cov/$name.profraw "$bin" -runs=0 "$corpus" >/dev/null 2>&1 || true
  llvm-profdata merge -sparse "$OUT/cov/$name.profraw" -o "$OUT/cov/$name.profdata"
  llvm-cov report "$bin" -instr-profile="$OUT/cov/$name.profdata" "$ROOT/lib" |
    awk 'NR == 1 || ($1 ~ /\.cc$/ && $4 != "0.00%") { print "  " $0 }'
  echo "  uncovered lines: llvm-cov show $bin -instr-profile=$OUT/cov/$name.profdata $ROOT/lib"
}

rm -f "$OUT/libcartgate_fuzz.a"
ar rcs "$OUT/libcartgate_fuzz.a" "${OBJECTS[@]}"

status=0
summary=()
for name in "${TARGETS[@]}"; do
  bin=$OUT/${name}_fuzz
  echo "fuzz: building $bin"
  "${CXX[@]}" "${CXXFLAGS[@]}" "${SANITIZE[@]}" "$ROOT/tests/fuzz/${name}_fuzz.cc" \
    "$OUT/libcartgate_fuzz.a" "${LIBS[@]}" -o "$bin"

  corpus=$OUT/corpus-$name
  artifacts=$OUT/artifacts-$name/
  mkdir -p "$corpus" "$artifacts"
  # Seeds are refreshed, what earlier runs found is kept: re-running resumes, not restarts.
  cp -f "$ROOT/tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null || true
  big_seeds "$name" "$corpus"
  log=$OUT/$name.log

  echo "fuzz: running $name for ${SECONDS_PER_TARGET}s (log: $log)"
  # -timeout: an input slower than this is itself a finding (a quadratic parser is a
  # denial of service), reported like a crash. libFuzzer's progress lines go to the log;
  # every 10th is echoed so a long run shows it is alive.
  set +e
  # Only the transports take inputs past their 64 KiB bounds; every other parser sees far
  # shorter text (a token is at most 8 KiB), and short inputs mutate faster.
  max_len=4096
  case $name in fastcgi | http1) max_len=70000 ;; jwt | body) max_len=9000 ;; esac
  "$bin" "$corpus" -max_total_time="$SECONDS_PER_TARGET" -max_len="$max_len" -timeout=25 \
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
  if [[ ${FUZZ_COVERAGE:-0} == 1 ]]; then
    echo "fuzz: coverage of lib/ by $corpus"
    coverage_report "$name" "$corpus"
  fi
done

echo "fuzz: summary"
printf '  %s\n' "${summary[@]}"
exit "$status"
