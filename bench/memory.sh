#!/usr/bin/env bash
# The worker pool's memory on the local stack (deploy/local/up), checked against stated
# bounds. The pool is restarted, then each worker's RSS and Pss (/proc/PID/smaps_rollup; Pss
# splits a shared page between the processes sharing it) is read
#
#   idle        2 s after the start
#   hot path    once settled after 5 s of wrk on the cart route, validate-token and `me`
#   logins      once settled after 5 s of successful logins (no 2FA; 8 accounts)
#   flood       every 0.5 s during 500 concurrent failing logins (bench/login.lua), and
#               once settled after it (settled: no CPU used by the pool for 1 s, then 3 s)
#
# Bounds (exit status 1 when one is exceeded):
#   idle        each worker's RSS <= IDLE_MIB (20)
#   after load  each worker's RSS <= its idle RSS + 10 % (hot path, logins, flood)
#   flood       the pool's RSS (master and workers) <= FLOOD_MIB, by default
#               master idle + workers x (IDLE_MIB + argon2 slots x argon2 memory + 16):
#               every login slot hashing at once on its own mapping, plus 16 MiB of
#               queued requests and their threads per worker
#
#   bash bench/memory.sh                  # the local stack on HTTP_PORT, PG_PORT
#   IDLE_MIB=20 FLOOD_MIB=160 bash bench/memory.sh
#
# Rate limits of login and validate-token are lifted for the run and put back afterwards.
set -euo pipefail
IDLE_MIB=${IDLE_MIB:-20}
STACK=local
PG_PORT=${PG_PORT:-15432}
HTTP_PORT=${HTTP_PORT:-8080}
HTTPS_PORT=${HTTPS_PORT:-8443}
UPSTREAM_PORT=${UPSTREAM_PORT:-8081}
SMTP_PORT=${SMTP_PORT:-2525}
source "$(dirname "$0")/../deploy/local/common.sh"
say() { printf 'memory: %s\n' "$*" >&2; }
BASE=http://127.0.0.1:$HTTP_PORT
command -v wrk >/dev/null || { say "wrk is not installed (apt-get install wrk)"; exit 1; }
curl -sf -o /dev/null "$BASE/wp-json/cartgate/v1/health" || { say "local stack not answering (deploy/local/up)"; exit 1; }
CONF=$S/cartgate.toml
WORK=$(mktemp -d)

# ---- accounts and lifted limits (as bench/run.sh) -----------------------------------------
cli user list | cut -f2 >"$WORK/users"
has_user() { grep -x "$1" "$WORK/users" >/dev/null; }
BENCH_USER=cartgate_bench
has_user "$BENCH_USER" ||
  openssl rand -hex 16 | cli user add "$BENCH_USER" --email "$BENCH_USER@bench.invalid" >/dev/null
CARTGATE_BENCH_TOKEN=$(cli jwt create --user="$BENCH_USER" | head -n 1)
CARTGATE_BENCH_PASSWORD=$(openssl rand -hex 16)
logins=()
for i in 1 2 3 4 5 6 7 8; do
  name=cartgate_bench_login_$i
  logins+=("$name")
  if has_user "$name"; then
    printf '%s\n' "$CARTGATE_BENCH_PASSWORD" | cli user passwd "$name" >/dev/null 2>&1
  else
    printf '%s\n' "$CARTGATE_BENCH_PASSWORD" | cli user add "$name" --email "$name@bench.invalid" >/dev/null
  fi
done
CARTGATE_BENCH_LOGINS=$(IFS=,; echo "${logins[*]}")
export CARTGATE_BENCH_TOKEN CARTGATE_BENCH_PASSWORD CARTGATE_BENCH_LOGINS

LIFTED=(rate_limit.login.max rate_limit.validate.max)
cli option list >"$WORK/options"
restore() {
  [[ -n ${FLOOD_PID:-} ]] && kill "$FLOOD_PID" 2>/dev/null || true
  local opt value state
  for opt in "${LIFTED[@]}"; do
    read -r _ value state _ < <(grep "^$opt " "$WORK/options")
    if [[ $state == set ]]; then cli option set "$opt" "$value" >/dev/null; else cli option unset "$opt" >/dev/null; fi
  done
  rm -rf "$WORK"
}
trap restore EXIT
for opt in "${LIFTED[@]}"; do cli option set "$opt" -1 >/dev/null; done

# ---- measuring ------------------------------------------------------------------------
workers() { pgrep -P "$(pool_pid)" | sort -n; }
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "$1" 2>/dev/null || echo 0; }
# "Rss_KiB Pss_KiB" of one process, both from smaps_rollup: a walk of the page tables.
# (RSS in /proc/PID/status is the kernel's per-CPU counters, read without summing them
# exactly; on Linux 6.x it was seen 20 MiB away from the walk for the same process.)
usage() { echo "$(kib "/proc/$1/smaps_rollup" Rss) $(kib "/proc/$1/smaps_rollup" Pss)"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# One line per sample: "label pool_rss_kib worker1_rss worker1_pss worker2_rss …".
sample() {
  local label=$1 pool line="" w rss pss
  read -r pool _ <<<"$(usage "$(pool_pid)")"
  for w in $(workers); do
    read -r rss pss <<<"$(usage "$w")"
    pool=$((pool + rss))
    line+=" $rss $pss"
  done
  echo "$label $pool$line"
}
show() {
  local label pool rest
  read -r label pool rest <<<"$1"
  local out="" i=1
  set -- $rest
  while (($#)); do out+=" worker$i $(mib "$1")/$(mib "$2")"; shift 2; i=$((i + 1)); done
  printf '%-10s pool RSS %7s MiB;%s  (RSS/Pss MiB)\n' "$label" "$(mib "$pool")" "$out" >&2
}

# Settled: the pool's CPU time did not move for a whole second (what wrk left queued is
# answered), at most 60 s.
pool_ticks() {
  local pids=($(pool_pid) $(workers))
  (cd /proc && cat "${pids[@]/%//stat}" 2>/dev/null) | awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}
settle() {
  local before after
  for _ in $(seq 1 60); do
    before=$(pool_ticks); sleep 1; after=$(pool_ticks)
    ((after - before <= 2)) && break
  done
  sleep 3  # the trimmer's 2 s period, and a margin
}

pool_up 2>/dev/null
for _ in $(seq 1 100); do curl -sf -o /dev/null "$BASE/wp-json/cartgate/v1/health" && break; sleep 0.1; done
sleep 2
MASTER_IDLE=$(kib "/proc/$(pool_pid)/smaps_rollup" Rss)
IDLE=$(sample idle); show "$IDLE"

AUTH=(-H "Authorization: Bearer $CARTGATE_BENCH_TOKEN")
wrk -t2 -c64 -d5s "${AUTH[@]}" "$BASE/wp-json/cocart/v2/cart" >/dev/null
wrk -t2 -c64 -d5s -s "$ROOT/bench/validate.lua" "$BASE/wp-json/cocart/jwt/validate-token" >/dev/null
wrk -t2 -c64 -d5s "${AUTH[@]}" "$BASE/wp-json/cartgate/v1/me" >/dev/null
settle
HOT=$(sample hot_path); show "$HOT"

wrk -t2 -c64 -d5s --timeout 10s -s "$ROOT/bench/login_success.lua" "$BASE/wp-json/cocart/v2/login" >"$WORK/login.txt"
settle
LOGINS=$(sample logins); show "$LOGINS"
grep statuses "$WORK/login.txt" | sed 's/^/           /' >&2 || true

wrk -t2 -c500 -d10s --timeout 10s -s "$ROOT/bench/login.lua" "$BASE/wp-json/cocart/v2/login" >"$WORK/flood.txt" 2>&1 &
FLOOD_PID=$!
PEAK=""
peak_pool=0
while kill -0 "$FLOOD_PID" 2>/dev/null; do
  s=$(sample flood_peak)
  read -r _ p _ <<<"$s"
  ((p > peak_pool)) && { peak_pool=$p; PEAK=$s; }
  sleep 0.5
done
wait "$FLOOD_PID" || true
FLOOD_PID=
[[ -n $PEAK ]] && show "$PEAK"
grep statuses "$WORK/flood.txt" | sed 's/^/           /' >&2 || true
settle
AFTER=$(sample after_flood); show "$AFTER"

# ---- bounds ---------------------------------------------------------------------------
slots=$(awk -F' *= *' '/^argon2_max_concurrent/ { print $2 }' "$CONF"); slots=${slots:-2}
argon2_kib=$(awk -F' *= *' '/^argon2_memory_kib/ { print $2 }' "$CONF"); argon2_kib=${argon2_kib:-19456}
nworkers=$(workers | wc -l)
FLOOD_MIB=${FLOOD_MIB:-$(awk -v m="$MASTER_IDLE" -v n="$nworkers" -v i="$IDLE_MIB" -v s="$slots" -v a="$argon2_kib" \
  'BEGIN { printf "%d", m / 1024 + n * (i + s * a / 1024 + 16) }')}
fail=0
check() {  # DESCRIPTION VALUE_KIB BOUND_KIB
  local verdict=ok
  (($2 <= $3)) || { verdict=EXCEEDED; fail=1; }
  printf '  %-44s %8s MiB <= %8s MiB  %s\n' "$1" "$(mib "$2")" "$(mib "$3")" "$verdict" >&2
}
say "bounds: idle worker RSS <= $IDLE_MIB MiB; after load within 10 % of idle; pool during the flood <= $FLOOD_MIB MiB"
read -r _ _ idle_rest <<<"$IDLE"
idle=($idle_rest)
for label_line in "$HOT" "$LOGINS" "$AFTER"; do
  read -r label _ rest <<<"$label_line"
  now=($rest)
  for ((i = 0; i < ${#idle[@]}; i += 2)); do
    w=$((i / 2 + 1))
    [[ $label == hot_path ]] && check "worker$w idle" "${idle[i]}" $((IDLE_MIB * 1024))
    check "worker$w $label (idle + 10 %)" "${now[i]:-0}" $((idle[i] * 110 / 100))
  done
done
read -r _ peak_kib _ <<<"${PEAK:-x 0}"
check "pool during the flood" "$peak_kib" $((FLOOD_MIB * 1024))
exit "$fail"
