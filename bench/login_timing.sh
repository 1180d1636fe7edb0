#!/usr/bin/env bash
# Login timing: does a failing login's latency tell which accounts exist, or how they were
# imported? Starts a stack of its own (PostgreSQL, the worker pool, nginx; no storefront)
# on private ports, makes an argon2id account (`user add`) and two imported ones (a
# WordPress 6.8 `$wp$2y$` bcrypt hash and a phpass `$P$B` hash, `user import`), lifts
# the login rate limit, then runs bench/login_timing.py: N sequential wrong-password
# logins per case through nginx (plus an unknown user), and the Kolmogorov-Smirnov D and
# p-value of every pair. Prints markdown tables (docs/benchmarks.md, "Login timing").
# Stops what it started on exit.
#
# With LEGACY=0 nothing is imported: a store whose accounts are all argon2id, where login
# runs no legacy dummies; the cases are then the unknown user and two argon2id accounts.
#
#   bash bench/login_timing.sh                 # 200 samples per case
#   SAMPLES=50 bash bench/login_timing.sh
#   LEGACY=0 bash bench/login_timing.sh        # no imported accounts
#   PG_PORT=… HTTP_PORT=… HTTPS_PORT=… UPSTREAM_PORT=… SMTP_PORT=… bash bench/login_timing.sh
set -euo pipefail
STACK=bench-timing
PG_PORT=${PG_PORT:-15933}
HTTP_PORT=${HTTP_PORT:-18580}
HTTPS_PORT=${HTTPS_PORT:-18943}
UPSTREAM_PORT=${UPSTREAM_PORT:-18581}
SMTP_PORT=${SMTP_PORT:-13025}
SAMPLES=${SAMPLES:-200}
LEGACY=${LEGACY:-1}
WORKERS=${WORKERS:-2}
STOREFRONT_SYNC=0
LOCAL_PLUGINS=0
PG_FSYNC=off
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/deploy/local/common.sh"
[[ -x $CARTGATE_BIN ]] || build

down() {
  trap - EXIT INT TERM
  nginx_down || true
  pool_down || true
  pg_down || true
}
trap down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

secrets
pg_up
pg_reset_database
write_config
cli migrate >/dev/null
mkdir -p "$S/log"
pool_up
nginx_up
wait_http "http://127.0.0.1:$HTTP_PORT/wp-json/cartgate/v1/health"

# The failures of the run must not be refused by the login rate limit.
cli option set rate_limit.login.max -1 >/dev/null
echo 'argon2-password-1' | cli user add timing_argon2 --email timing_argon2@bench.invalid >/dev/null
if [[ $LEGACY == 1 ]]; then
  # Hashes from tests/unit/password_test.cc (their passwords are not the one the bench sends).
  cat >"$S/timing-users.csv" <<'CSV'
ID,user_login,user_email,user_pass
90001,timing_bcrypt,timing_bcrypt@bench.invalid,$wp$2y$10$MBOflrd0P5VGNfMvObZcpO8qSbCK6seFLZ5dpFBy3jXBLtMPaNvy.
90002,timing_phpass,timing_phpass@bench.invalid,$P$Bcartgatex5oc04GZuJPw8yjhxnIR10
CSV
  cli user import --format wordpress "$S/timing-users.csv" >/dev/null
  cases=(unknown=timing_nosuchuser argon2=timing_argon2 bcrypt=timing_bcrypt phpass=timing_phpass)
else
  echo 'argon2-password-2' | cli user add timing_argon2b --email timing_argon2b@bench.invalid >/dev/null
  cases=(unknown=timing_nosuchuser argon2=timing_argon2 argon2b=timing_argon2b)
fi
sleep 1  # options and imported schemes reach the workers within milliseconds
present=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep '^cartgate_password_legacy_present' | tr '\n' ' ' || true)
say "legacy schemes the workers cover: ${present:-(no gauge)}"

say "measuring $SAMPLES samples per case with $CARTGATE_BIN"
/usr/bin/python3 "$ROOT/bench/login_timing.py" --port "$HTTP_PORT" --samples "$SAMPLES" "${cases[@]}"
