#!/usr/bin/env bash
# Retention drill (docs/reliability.md, "Retention"): fills audit_events and rate_limits of
# the local stack (deploy/local/up) with millions of rows past their retention, then lets
# the workers' scheduled pruning pass delete them while wrk drives traffic that writes to
# rate_limits on every request (validate-token, counted per IP with its limit raised out of
# reach). Prints rows/s pruned per table, and wrk's req/s, p99 and errors for 5-second
# slices before the prune and while it runs.
#
#   bash bench/retention_drill.sh                    # 2 000 000 audit rows, 1 000 000 rate-limit rows
#   AUDIT_ROWS=500000 RATE_ROWS=200000 bash bench/retention_drill.sh
#   options (environment): AUDIT_ROWS RATE_ROWS BATCH_ROWS (retention.batch_rows, 5000)
#   CONNECTIONS (wrk, 32) SLICE (seconds, 5)
#
# The options it changes (rate_limit.validate.max, retention.*) are put back as they were
# on exit, whatever happens.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STACK=local
PG_PORT=${PG_PORT:-15432}
HTTP_PORT=${HTTP_PORT:-8080}
source "$ROOT/deploy/local/common.sh"
BASE=http://127.0.0.1:$HTTP_PORT
AUDIT_ROWS=${AUDIT_ROWS:-2000000}
RATE_ROWS=${RATE_ROWS:-1000000}
BATCH_ROWS=${BATCH_ROWS:-5000}
CONNECTIONS=${CONNECTIONS:-32}
SLICE=${SLICE:-5}
CG=("$ROOT/deploy/local/cartgate")
say() { printf 'drill: %s\n' "$*" >&2; }
command -v wrk >/dev/null || { say "wrk is not installed (apt-get install wrk)"; exit 1; }
curl -sf -o /dev/null "$BASE/wp-json/cartgate/v1/health" || { say "local stack not answering on $BASE (deploy/local/up)"; exit 1; }
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$(database_url)" -c "$1"; }

# Options touched, restored on exit.
OPTS=(rate_limit.validate.max retention.interval_s retention.batch_rows)
declare -A PREV
for k in "${OPTS[@]}"; do
  read -r _ value state _ < <("${CG[@]}" option list | grep "^$k ")
  PREV[$k]="$state $value"
done
restore() {
  for k in "${OPTS[@]}"; do
    read -r state value <<<"${PREV[$k]}"
    if [[ $state == set ]]; then "${CG[@]}" option set "$k" "$value" >/dev/null; else "${CG[@]}" option unset "$k" >/dev/null; fi
  done
  say "options restored"
}
trap restore EXIT
# No scheduled pass while the tables fill.
"${CG[@]}" option set retention.interval_s 86400 >/dev/null
"${CG[@]}" option set retention.batch_rows "$BATCH_ROWS" >/dev/null
"${CG[@]}" option set rate_limit.validate.max 1000000 >/dev/null

BENCH_USER=cartgate_bench
if ! "${CG[@]}" user list | cut -f2 | grep -x "$BENCH_USER" >/dev/null; then
  openssl rand -hex 16 | "${CG[@]}" user add "$BENCH_USER" --email "$BENCH_USER@bench.invalid" >/dev/null
fi
export CARTGATE_BENCH_TOKEN; CARTGATE_BENCH_TOKEN=$("${CG[@]}" jwt create --user="$BENCH_USER" | head -n 1)
sleep 1

say "filling audit_events with $AUDIT_ROWS rows aged 200+ days, rate_limits with $RATE_ROWS ended windows"
fill_start=$SECONDS
sql "INSERT INTO audit_events (time, event, ip, detail)
     SELECT now() - interval '200 days' - i * interval '1 second', 'drill', '10.0.0.1', '{}'
     FROM generate_series(1, $AUDIT_ROWS) AS i"
sql "INSERT INTO rate_limits (bucket, hits, window_start, window_end)
     SELECT 'drill:ip:' || i, 3, now() - interval '2 hours', now() - interval '1 hour' - i * interval '1 ms'
     FROM generate_series(1, $RATE_ROWS) AS i ON CONFLICT DO NOTHING"
sql "VACUUM ANALYZE audit_events" ; sql "VACUUM ANALYZE rate_limits"
say "filled in $((SECONDS - fill_start)) s"

to_ms() {
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.2f", n }'
}
remaining() { sql "SELECT (SELECT count(*) FROM audit_events WHERE event = 'drill') + (SELECT count(*) FROM rate_limits WHERE bucket LIKE 'drill:%')"; }
slice() {
  local phase=$1 out rps p99 bad errs left
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${SLICE}s" --latency -s "$ROOT/bench/validate.lua" "$BASE/wp-json/cocart/jwt/validate-token")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out"); bad=${bad:-0}
  errs=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' <<<"$out"); errs=${errs:-0}
  left=$(remaining)
  printf '%-8s %10s %10s %8s %8s %12s\n' "$phase" "$rps" "$p99" "$bad" "$errs" "$left"
}
printf '%-8s %10s %10s %8s %8s %12s\n' phase req/s p99_ms non2xx sock_err rows_left
for _ in 1 2 3; do slice before; done

log_from=$(stat -c %s "$S/log/cartgate.log")
"${CG[@]}" option set retention.interval_s 1 >/dev/null
prune_start=$SECONDS
while (($(remaining) > 0)); do
  slice prune
  ((SECONDS - prune_start < 1800)) || { say "prune still running after 30 min; stopping"; break; }
done
"${CG[@]}" option set retention.interval_s 86400 >/dev/null
slice after

# The leader's own accounting: one retention_pruned line per table and pass that deleted
# rows, in the pool's log.
say "pruning, from the pool's log (this pass):"
tail -c +"$((log_from + 1))" "$S/log/cartgate.log" | grep 'event=retention_pruned' |
  awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
         if (f["rows"] >= 1000) printf "%-14s %9d rows in %7.1f s = %8.0f rows/s\n", f["table"], f["rows"], f["seconds"], f["rows"] / (f["seconds"] > 0 ? f["seconds"] : 0.001) }'
