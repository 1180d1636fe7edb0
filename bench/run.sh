#!/usr/bin/env bash
# cartgate's benchmark: wrk through the local stack's nginx (deploy/local/up), five
# targets measured alternately in the same run so the machine's state is shared:
#
#   static     GET  /bench/static.json                     nginx alone: the ceiling
#   cart       GET  /wp-json/cocart/v2/cart  (Bearer)      auth_request → cartgate's auth
#                                                          socket → stand-in (unix socket)
#   cart_tcp   GET  /bench/cart-tcp          (Bearer)      the same, stand-in over TCP
#   free_auth  GET  /bench/cart-free-auth                  the cart route with an auth
#                                                          subrequest nginx answers itself:
#                                                          what cart would reach if cartgate
#                                                          cost nothing
#   validate   POST /wp-json/cocart/jwt/validate-token     cartgate through FastCGI
#
# Order: static, cart, cart_tcp, free_auth, validate, repeated ROUNDS times, then static
# once more. Prints req/s, p50 and p99 of every run, the mean per target, and the ratio
# to static.
#
#   bash bench/run.sh                     # 64 connections, 2 threads, 10 s per run, 2 rounds
#   bash bench/run.sh -d 5 -r 1 --json    # shorter; JSON summary on stdout
#   options: -d SECONDS  -c CONNECTIONS  -t THREADS  -r ROUNDS  --json
#
# A bench user and a token (no IP/User-Agent binding, `cartgate jwt create`) are made
# for the run; validate-token's rate limit (2/min per IP) is lifted for the run and put
# back as it was afterwards, whatever happens.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# HTTP_PORT: the local stack's nginx when it was brought up on another port.
BASE=http://127.0.0.1:${HTTP_PORT:-8080}
DURATION=10
CONNECTIONS=64
THREADS=2
ROUNDS=2
JSON=0
while (($#)); do
  case $1 in
    -d) DURATION=$2; shift 2 ;;
    -c) CONNECTIONS=$2; shift 2 ;;
    -t) THREADS=$2; shift 2 ;;
    -r) ROUNDS=$2; shift 2 ;;
    --json) JSON=1; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
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

# The bench user (kept between runs) and a fresh session for this run.
BENCH_USER=cartgate_bench
# grep reads the whole listing (no -q): with -q it would exit at the first match, and
# under pipefail the listing's SIGPIPE would read as "no such user" on a stack with many.
if ! "${CG[@]}" user list | cut -f2 | grep -x "$BENCH_USER" >/dev/null; then
  openssl rand -hex 16 | "${CG[@]}" user add "$BENCH_USER" --email "$BENCH_USER@bench.invalid" >/dev/null
fi
TOKEN=$("${CG[@]}" jwt create --user="$BENCH_USER" | head -n 1)
export CARTGATE_BENCH_TOKEN=$TOKEN

# Lift validate-token's rate limit; restore the previous state on exit.
OPT=rate_limit.validate.max
read -r _ PREV_VALUE PREV_STATE _ < <("${CG[@]}" option list | grep "^$OPT ")
restore() {
  if [[ $PREV_STATE == set ]]; then
    "${CG[@]}" option set "$OPT" "$PREV_VALUE" >/dev/null
  else
    "${CG[@]}" option unset "$OPT" >/dev/null
  fi
  say "restored $OPT ($PREV_STATE${PREV_STATE:+ }$PREV_VALUE)"
}
trap restore EXIT
"${CG[@]}" option set "$OPT" -1 >/dev/null
sleep 1

# Sanity: every target answers 200 before anything is measured.
check() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' "$@")
  [[ $code == 200 ]] || { say "pre-check failed (HTTP $code): $*"; exit 1; }
}
check "$BASE/bench/static.json"
check -H "Authorization: Bearer $TOKEN" "$BASE/wp-json/cocart/v2/cart"
check -H "Authorization: Bearer $TOKEN" "$BASE/bench/cart-tcp"
check "$BASE/bench/cart-free-auth"
check -X POST -H "Authorization: Bearer $TOKEN" "$BASE/wp-json/cocart/jwt/validate-token"

# wrk's latency figures come as 812.00us / 1.23ms / 1.01s: to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f", n }'
}

RESULTS=()  # "target rps p50 p99 non2xx"
run_one() {
  local target=$1 out
  case $target in
    static) out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$BASE/bench/static.json") ;;
    cart) out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
                  -H "Authorization: Bearer $TOKEN" "$BASE/wp-json/cocart/v2/cart") ;;
    cart_tcp) out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
                      -H "Authorization: Bearer $TOKEN" "$BASE/bench/cart-tcp") ;;
    free_auth) out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
                       -H "Authorization: Bearer $TOKEN" "$BASE/bench/cart-free-auth") ;;
    validate) out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
                      -s "$ROOT/bench/validate.lua" "$BASE/wp-json/cocart/jwt/validate-token") ;;
  esac
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  bad=${bad:-0}
  RESULTS+=("$target $rps $p50 $p99 $bad")
  printf '%-10s %12s req/s   p50 %8s ms   p99 %8s ms   non-2xx %s\n' "$target" "$rps" "$p50" "$p99" "$bad" >&2
  ((bad == 0)) || say "warning: $target had $bad non-2xx answers"
}

say "wrk: $CONNECTIONS connections, $THREADS threads, ${DURATION}s per run, $ROUNDS rounds; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((round = 1; round <= ROUNDS; round++)); do
  for target in static cart cart_tcp free_auth validate; do run_one "$target"; done
done
run_one static

# Means per target and the ratios to static.
SUMMARY=$(printf '%s\n' "${RESULTS[@]}" | awk '
  { n[$1]++; rps[$1] += $2; p50[$1] += $3; p99[$1] += $4; if ($4 > max99[$1]) max99[$1] = $4; bad[$1] += $5 }
  END {
    for (t in n) { rps[t] /= n[t]; p50[t] /= n[t]; p99[t] /= n[t] }
    split("static cart cart_tcp free_auth validate", order, " ")
    for (i = 1; i <= 5; i++) { t = order[i]
      printf "%s %.0f %.3f %.3f %.3f %.3f %d %d\n", t, rps[t], p50[t], p99[t], max99[t], rps[t] / rps["static"], bad[t], n[t] }
  }')

echo
printf '%-10s %10s %9s %9s %13s %9s\n' target "req/s" "p50 ms" "p99 ms" "worst p99 ms" "/ static"
while read -r t r p50 p99 w ratio bad n; do
  printf '%-10s %10s %9s %9s %13s %9s\n' "$t" "$r" "$p50" "$p99" "$w" "$ratio"
done <<<"$SUMMARY"

if ((JSON)); then
  printf '%s\n' "$SUMMARY" | awk -v c="$CONNECTIONS" -v th="$THREADS" -v d="$DURATION" -v rounds="$ROUNDS" '
    BEGIN { printf "{\"connections\":%d,\"threads\":%d,\"seconds\":%d,\"rounds\":%d,\"targets\":{", c, th, d, rounds }
    { printf "%s\"%s\":{\"rps\":%s,\"p50_ms\":%s,\"p99_ms\":%s,\"worst_p99_ms\":%s,\"ratio_to_static\":%s,\"non_2xx\":%s,\"runs\":%s}",
        (NR > 1 ? "," : ""), $1, $2, $3, $4, $5, $6, $7, $8 }
    END { print "}}" }'
fi
