#!/usr/bin/env bash
# A login flood against refresh-token and validate-token: on a private stack of its own
# (PostgreSQL, the worker pool, nginx on private ports; no storefront), measures
#
#   unloaded   refresh-token and validate-token throughput, nothing else running
#   flood      the same while wrk keeps FLOOD_CONNECTIONS logins in flight
#              (bench/login.lua: unknown names, wrong passwords, full argon2 work)
#
# and the workers' resident memory (VmRSS from /proc, summed) before, during and after
# the flood. Prints each figure and the ratios flood / unloaded. Everything is bounded
# in time (wrk -d), on 127.0.0.1, and stopped on exit, whatever happens.
#
#   bash bench/login_flood.sh                    # 500 flood connections, 5 s probes
#   options: -d SECONDS (probe length)  -c FLOOD_CONNECTIONS  -p PROBE_CONNECTIONS
#   CARTGATE=/path/to/cartgate bash bench/login_flood.sh   # another build, same stack
#   ports:   FLOOD_PG_PORT FLOOD_HTTP_PORT FLOOD_HTTPS_PORT FLOOD_UPSTREAM_PORT FLOOD_SMTP_PORT
#
# The probes: refresh-token with a refresh token no session has (401: the blocking
# thread, the rate-limit counter and the token lookup, nothing rotated; bench/refresh.lua)
# and validate-token with a token from `cartgate jwt create` (bench/validate.lua). The
# stack's login, refresh and validate rate limits are lifted (-1): it is the bench's own.
set -euo pipefail
DURATION=5
FLOOD_CONNECTIONS=500
PROBE_CONNECTIONS=16
while (($#)); do
  case $1 in
    -d) DURATION=$2; shift 2 ;;
    -c) FLOOD_CONNECTIONS=$2; shift 2 ;;
    -p) PROBE_CONNECTIONS=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "login_flood: unknown argument $1" >&2; exit 2 ;;
  esac
done

STACK=flood
PG_PORT=${FLOOD_PG_PORT:-25734}
HTTP_PORT=${FLOOD_HTTP_PORT:-28380}
HTTPS_PORT=${FLOOD_HTTPS_PORT:-28743}
UPSTREAM_PORT=${FLOOD_UPSTREAM_PORT:-28381}
SMTP_PORT=${FLOOD_SMTP_PORT:-22825}
export STOREFRONT_SYNC=0 LOCAL_PLUGINS=0
source "$(dirname "$0")/../deploy/local/common.sh"
# CARTGATE=path measures another build of cartgate (e.g. an earlier commit's) the same way.
[[ -n ${CARTGATE:-} ]] && CARTGATE_BIN=$CARTGATE
BENCH_DIR=$ROOT/bench
BASE=http://127.0.0.1:$HTTP_PORT
command -v wrk >/dev/null || die "wrk is not installed (deploy/deps.sh)"
[[ -x $CARTGATE_BIN ]] || build

teardown() {
  [[ -n ${FLOOD_PID:-} ]] && kill "$FLOOD_PID" 2>/dev/null || true
  nginx_down
  pool_down
  smtp_down
  pg_down
}
trap teardown EXIT

secrets
pg_up
write_config
cli migrate >/dev/null
smtp_up
pool_up
nginx_up
wait_http "$BASE/wp-json/cartgate/v1/health"

for opt in rate_limit.login.max rate_limit.refresh.max rate_limit.validate.max; do
  cli option set "$opt" -1 >/dev/null
done
BENCH_USER=cartgate_bench
if ! cli user list | cut -f2 | grep -x "$BENCH_USER" >/dev/null; then
  openssl rand -hex 16 | cli user add "$BENCH_USER" --email "$BENCH_USER@bench.invalid" >/dev/null
fi
CARTGATE_BENCH_TOKEN=$(cli jwt create --user="$BENCH_USER" | head -n 1)
export CARTGATE_BENCH_TOKEN
sleep 1

# The workers' VmRSS, summed, in MiB.
workers_rss() {
  local master total=0 pid kb
  master=$(cat "$S/run/cartgate.pid")
  for pid in $(pgrep -P "$master"); do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  awk -v kb="$total" 'BEGIN { printf "%.1f", kb / 1024 }'
}

# Requests per second of one probe run, and its non-2xx count.
probe() {
  local path=$1 script=$2 out rps
  out=$(wrk -t2 -c"$PROBE_CONNECTIONS" -d"${DURATION}s" --timeout 10s -s "$BENCH_DIR/$script" "$BASE$path")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  echo "${rps:-0}"
}

REFRESH=/wp-json/cocart/jwt/refresh-token
VALIDATE=/wp-json/cocart/jwt/validate-token
LOGIN=/wp-json/cocart/v2/login

# Warm up: every worker has seen the token's session.
wrk -t1 -c4 -d2s -s "$BENCH_DIR/validate.lua" "$BASE$VALIDATE" >/dev/null

rss_before=$(workers_rss)
refresh_idle=$(probe "$REFRESH" refresh.lua)
validate_idle=$(probe "$VALIDATE" validate.lua)

FLOOD_SECONDS=$((2 * DURATION + 6))
wrk -t2 -c"$FLOOD_CONNECTIONS" -d"${FLOOD_SECONDS}s" --timeout 10s -s "$BENCH_DIR/login.lua" "$BASE$LOGIN" \
  >"$S/log/flood-wrk.txt" 2>&1 &
FLOOD_PID=$!
sleep 2
rss_during=$(workers_rss)
refresh_flood=$(probe "$REFRESH" refresh.lua)
validate_flood=$(probe "$VALIDATE" validate.lua)
rss_during_peak=$(workers_rss)
wait "$FLOOD_PID" || true
FLOOD_PID=
sleep 1
rss_after=$(workers_rss)

flood_rps=$(awk '/^Requests\/sec:/ {print $2}' "$S/log/flood-wrk.txt")
flood_bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$S/log/flood-wrk.txt")
flood_total=$(awk '/requests in/ {print $1}' "$S/log/flood-wrk.txt")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

cat <<OUT
login flood: $FLOOD_CONNECTIONS connections, ${FLOOD_SECONDS}s; probes: $PROBE_CONNECTIONS connections, ${DURATION}s each
  flood answered      $flood_total requests ($flood_rps/s), non-2xx ${flood_bad:-0}
  refresh-token       unloaded $refresh_idle req/s, during the flood $refresh_flood req/s, ratio $(ratio "$refresh_flood" "$refresh_idle")
  validate-token      unloaded $validate_idle req/s, during the flood $validate_flood req/s, ratio $(ratio "$validate_flood" "$validate_idle")
  workers' RSS (MiB)  before $rss_before, during $rss_during / $rss_during_peak, after $rss_after; during/before $(ratio "$rss_during_peak" "$rss_before"), after/before $(ratio "$rss_after" "$rss_before")
OUT
grep "flood statuses\|Socket errors" "$S/log/flood-wrk.txt" | sed 's/^/  /' || true
