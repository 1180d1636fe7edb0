#!/usr/bin/env bash
# Scale, measured (docs/scale.md): grows the local stack (deploy/local/up) to each size in
# turn — users imported through `cartgate user import`, sessions, rate-limit rows — and
# measures at each size what an operator pays:
#
#   import      `user import --format wordpress` of the users added to reach the size
#               (WordPress phpass hashes, as exported: no password hashing at import)
#   list        `jwt list` first page and last page
#   first_sight GET /me with tokens whose sessions no worker has cached (p50/p99), then
#               the same tokens again (cached)
#   cache       worker RSS before/after every session of the size (up to CACHE_MAX) was
#               seen once: bytes per cached session
#   cleanup     `jwt cleanup` with a tenth of the sessions expired
#   rate        rate_limits filled with SIZE ended windows of distinct IPs: table size,
#               a counted request from a new IP (p50/p99), `retention run` prune time
#
#   bash bench/scale.sh                        # sizes 10000 100000 1000000
#   SIZES="10000 100000" bash bench/scale.sh   # CACHE_MAX (default 100000) caps the cache step
#
# Rows it makes are its own (users scale_<i> with WordPress ids UID0+i for i in 1..SIZE,
# sessions pat_<hex i>, buckets scale:ip:<i>); a second run reuses what exists. Options it changes are put back.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STACK=local
PG_PORT=${PG_PORT:-15432}
HTTP_PORT=${HTTP_PORT:-8080}
source "$ROOT/deploy/local/common.sh"
BASE=http://127.0.0.1:$HTTP_PORT
SIZES=${SIZES:-"10000 100000 1000000"}
CACHE_MAX=${CACHE_MAX:-100000}
PROBES=${PROBES:-300}
CG=("$ROOT/deploy/local/cartgate")
PY=("python3" "$ROOT/bench/scale.py")
WORK=$(mktemp -d)
say() { printf 'scale: %s\n' "$*" >&2; }
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$(database_url)" -c "$1"; }
command -v wrk >/dev/null || { say "wrk is not installed (apt-get install wrk)"; exit 1; }
curl -sf -o /dev/null "$BASE/wp-json/cartgate/v1/health" || { say "local stack not answering on $BASE (deploy/local/up)"; exit 1; }
# A phpass hash as WordPress before 6.8 stores it (tests/integration/import_test.cc).
HASH='$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0'
# Far above the ids the local storefront's WordPress hands out.
UID0=50000000
ISSUER=$(awk -F'"' '/^issuer/ {print $2; exit}' "$S/cartgate.toml")

OPTS=(rate_limit.validate.max retention.interval_s)
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
  rm -rf "$WORK"
}
trap restore EXIT
# No scheduled pruning while the tables are measured; validate-token counted, never limited.
"${CG[@]}" option set retention.interval_s 86400 >/dev/null
"${CG[@]}" option set rate_limit.validate.max 1000000 >/dev/null

now_s() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.2f", b - a }'; }
workers_rss_kib() {
  local master; master=$(cat "$S/run/cartgate.pid")
  local total=0 pid
  for pid in $(pgrep -P "$master"); do
    total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")))
  done
  echo "$total"
}
restart_pool() { pool_down; pool_up; wait_http "$BASE/wp-json/cartgate/v1/health"; }

printf '%s\n' "size step figure" >"$WORK/results"
result() { printf '%s %s %s\n' "$@" | tee -a "$WORK/results"; }

for N in $SIZES; do
  say "=== size $N"
  # Users: import what is missing to reach N (ids 1..N).
  have=$(sql "SELECT coalesce(max(id) - $UID0, 0) FROM users WHERE id > $UID0 AND id <= $UID0 + $N")
  if ((have < N)); then
    "${PY[@]}" csv "$UID0" "$((have + 1))" "$N" "$HASH" >"$WORK/users.csv"
    t0=$(now_s)
    "${CG[@]}" user import --format wordpress "$WORK/users.csv" >"$WORK/import.out" 2>"$WORK/import.err" ||
      { tail -n 5 "$WORK/import.err" >&2; exit 1; }
    took=$(since "$t0")
    tail -n 2 "$WORK/import.err" >&2; cat "$WORK/import.out" >&2
    result "$N" import "$((N - have))_users_in_${took}_s=$(awk -v n=$((N - have)) -v t="$took" 'BEGIN {printf "%.0f", n / t}')_users/s"
  fi
  # Sessions pat_<i> for user i, one each, live for 10 days, each with a refresh token.
  t0=$(now_s)
  sql "INSERT INTO sessions (pat, user_id, created_at, expires_at)
       SELECT 'pat_' || lpad(to_hex(i), 24, '0'), $UID0 + i, now() - (i % 86400) * interval '1 second', now() + interval '10 days'
       FROM generate_series(1, $N) AS i ON CONFLICT DO NOTHING"
  sql "INSERT INTO refresh_tokens (token_hash, pat, user_id, expires_at)
       SELECT sha256(('scale' || i)::bytea), 'pat_' || lpad(to_hex(i), 24, '0'), $UID0 + i, now() + interval '10 days'
       FROM generate_series(1, $N) AS i ON CONFLICT DO NOTHING"
  sql "VACUUM ANALYZE sessions"; sql "VACUUM ANALYZE refresh_tokens"
  say "sessions ready in $(since "$t0") s ($(sql "SELECT count(*) FROM sessions") in the table)"

  # jwt list: first page and last page.
  t0=$(now_s); "${CG[@]}" jwt list --per-page=20 >/dev/null; result "$N" list_first_page "$(since "$t0")_s"
  t0=$(now_s); "${CG[@]}" jwt list --per-page=20 --page=$((N / 20)) >/dev/null; result "$N" list_last_page "$(since "$t0")_s"

  # First sight: a fresh pool (nothing cached), PROBES sessions spread over the table.
  restart_pool
  step=$((N / PROBES)); ((step > 0)) || step=1
  "${PY[@]}" tokens "$S/secrets/jwt_secret" "$ISSUER" "$UID0" 1 "$N" "$step" >"$WORK/probe.txt"
  result "$N" first_sight "$("${PY[@]}" latency "$HTTP_PORT" /wp-json/cartgate/v1/me "$WORK/probe.txt" | awk '{print "n=" $1 "_p50=" $2 "ms_p99=" $3 "ms_non200=" $4}')"
  result "$N" cached "$("${PY[@]}" latency "$HTTP_PORT" /wp-json/cartgate/v1/me "$WORK/probe.txt" | awk '{print "n=" $1 "_p50=" $2 "ms_p99=" $3 "ms_non200=" $4}')"

  # Cache memory: every session (up to CACHE_MAX) seen once by a fresh pool.
  M=$((N < CACHE_MAX ? N : CACHE_MAX))
  "${PY[@]}" tokens "$S/secrets/jwt_secret" "$ISSUER" "$UID0" 1 "$M" >"$WORK/tokens.txt"
  restart_pool
  curl -s -o /dev/null "$BASE/wp-json/cartgate/v1/health"
  rss0=$(workers_rss_kib)
  t0=$(now_s)
  CARTGATE_SCALE_TOKENS=$WORK/tokens.txt CARTGATE_SCALE_THREADS=2 \
    wrk -t2 -c16 -d600s -s "$ROOT/bench/scale_fill.lua" "$BASE" >"$WORK/wrk.out"
  took=$(since "$t0")
  rss1=$(workers_rss_kib)
  result "$N" cache "${M}_sessions_in_${took}_s_rss_${rss0}->${rss1}_KiB=$(awk -v a="$rss0" -v b="$rss1" -v m="$M" 'BEGIN {printf "%.0f", (b - a) * 1024 / m}')_bytes/session"

  # jwt cleanup with a tenth of the sessions (and their refresh tokens) expired.
  sql "UPDATE sessions SET expires_at = now() - interval '1 hour' WHERE pat IN
       (SELECT 'pat_' || lpad(to_hex(i), 24, '0') FROM generate_series(10, $N, 10) AS i)"
  sql "UPDATE refresh_tokens SET expires_at = now() - interval '1 hour' WHERE pat IN
       (SELECT 'pat_' || lpad(to_hex(i), 24, '0') FROM generate_series(10, $N, 10) AS i)"
  t0=$(now_s)
  out=$("${CG[@]}" jwt cleanup 2>/dev/null)
  result "$N" cleanup "$(since "$t0")_s_${out// /_}"

  # Rate limits: N distinct client IPs' ended windows, then counted requests from new IPs
  # (validate-token counts every call per IP), then the prune of the N rows.
  sql "INSERT INTO rate_limits (bucket, hits, window_start, window_end)
       SELECT 'scale:ip:' || i, 1, now() - interval '2 hours', now() - interval '1 hour'
       FROM generate_series(1, $N) AS i ON CONFLICT DO NOTHING"
  sql "ANALYZE rate_limits"
  result "$N" rate_table "$(sql "SELECT count(*) || '_rows_' || pg_size_pretty(pg_total_relation_size('rate_limits'))" | tr ' ' '_')"
  "${PY[@]}" tokens "$S/secrets/jwt_secret" "$ISSUER" "$UID0" 1 "$PROBES" >"$WORK/rate.txt"
  result "$N" rate_new_ip "$("${PY[@]}" latency "$HTTP_PORT" /wp-json/cocart/jwt/validate-token "$WORK/rate.txt" --forwarded-for-from $((RANDOM * 256)) | awk '{print "n=" $1 "_p50=" $2 "ms_p99=" $3 "ms_non200=" $4}')"
  t0=$(now_s)
  "${CG[@]}" retention run >"$WORK/retention.out" 2>/dev/null
  result "$N" rate_prune "$(since "$t0")_s_$(awk '$1 == "rate_limits:" {print $3}' "$WORK/retention.out")_rows"
done

say "results (machine shared with other builds and tests while measured):"
column -t "$WORK/results"
