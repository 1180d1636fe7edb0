#!/usr/bin/env bash
# The guarded cart route with the token checked inside nginx (docs/nginx-module.md),
# against the same upstream with no check and with the auth subrequest; wrk through the
# local stack's nginx (deploy/local/up, built with nginx-dev so the module is loaded),
# the three targets alternately in the same run:
#
#   proxy_only  GET /bench/cart-proxy-only           no check: the ceiling
#   in_nginx    GET /bench/cart-in-nginx   (Bearer)  cartgate's nginx module
#   subrequest  GET /wp-json/cocart/v2/cart (Bearer) auth_request → cartgate's auth socket
#
# Prints req/s of every run, the mean per target and each mean's ratio to proxy_only.
#
#   bash bench/in_nginx.sh                 # 64 connections, 2 threads, 10 s per run, 3 rounds
#   options: -d SECONDS  -c CONNECTIONS  -t THREADS  -r ROUNDS
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=http://127.0.0.1:${HTTP_PORT:-8080}
DURATION=10 CONNECTIONS=64 THREADS=2 ROUNDS=3
while (($#)); do
  case $1 in
    -d) DURATION=$2; shift 2 ;;
    -c) CONNECTIONS=$2; shift 2 ;;
    -t) THREADS=$2; shift 2 ;;
    -r) ROUNDS=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
say() { printf 'bench: %s\n' "$*" >&2; }
CG=("$ROOT/deploy/local/cartgate")
command -v wrk >/dev/null || { say "wrk is not installed (apt-get install wrk)"; exit 1; }
if ! curl -sf -o /dev/null "$BASE/wp-json/cartgate/v1/health"; then
  say "local stack not answering; starting it (deploy/local/up)"
  bash "$ROOT/deploy/local/up" >&2
fi
BENCH_USER=cartgate_bench
if ! "${CG[@]}" user list | cut -f2 | grep -x "$BENCH_USER" >/dev/null; then
  openssl rand -hex 16 | "${CG[@]}" user add "$BENCH_USER" --email "$BENCH_USER@bench.invalid" >/dev/null
fi
# A token issued now: the revocation state covers it once it is older than the writer's
# last reset plus the skew (lib/auth/revocation_layout.h), so wait that out.
sleep 3
TOKEN=$("${CG[@]}" jwt create --user="$BENCH_USER" | head -n 1)
sleep 3
check() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' "$@")
  [[ $code == 200 ]] || { say "pre-check failed (HTTP $code): $*"; exit 1; }
}
check "$BASE/bench/cart-proxy-only"
check -H "Authorization: Bearer $TOKEN" "$BASE/bench/cart-in-nginx"
check -H "Authorization: Bearer $TOKEN" "$BASE/wp-json/cocart/v2/cart"
declare -A SUM N
run_one() {
  local target=$1 path auth=() out rps bad
  case $target in
    proxy_only) path=/bench/cart-proxy-only ;;
    in_nginx) path=/bench/cart-in-nginx; auth=(-H "Authorization: Bearer $TOKEN") ;;
    subrequest) path=/wp-json/cocart/v2/cart; auth=(-H "Authorization: Bearer $TOKEN") ;;
  esac
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "${auth[@]}" "$BASE$path")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  printf '%-11s %12s req/s   non-2xx %s\n' "$target" "$rps" "${bad:-0}" >&2
  [[ -z $bad ]] || say "warning: $target had $bad non-2xx answers"
  SUM[$target]=$(awk -v a="${SUM[$target]:-0}" -v b="$rps" 'BEGIN {print a + b}')
  N[$target]=$((${N[$target]:-0} + 1))
}
say "wrk: $CONNECTIONS connections, $THREADS threads, ${DURATION}s per run, $ROUNDS rounds; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((round = 1; round <= ROUNDS; round++)); do
  for target in proxy_only in_nginx subrequest; do run_one "$target"; done
done
base=$(awk -v s="${SUM[proxy_only]}" -v n="${N[proxy_only]}" 'BEGIN {print s / n}')
for target in proxy_only in_nginx subrequest; do
  awk -v t="$target" -v s="${SUM[$target]}" -v n="${N[$target]}" -v b="$base" \
    'BEGIN {printf "%-11s mean %10.0f req/s   ratio to proxy_only %.3f\n", t, s / n, s / n / b}'
done
