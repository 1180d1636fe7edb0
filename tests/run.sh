#!/usr/bin/env bash
# The README's second command: builds cartgate and runs every test (unit and
# integration). Integration tests talk to a stack of their own on other loopback ports
# (PostgreSQL 15433, nginx http 18080 / https 18443 / pool-B server 18090, stand-in
# storefront 18081, SMTP sink 12525) and the WordPress storefront (MariaDB and PHP-FPM on
# unix sockets in the state folder), started here from empty databases and stopped on
# exit whatever happens. Exit status: ctest's (non-zero when any test fails).
#
#   bash tests/run.sh                 # everything
#   bash tests/run.sh -R Pool         # extra arguments go to ctest
#   PG_PORT=15533 HTTP_PORT=18280 … bash tests/run.sh   # every port can be overridden
set -euo pipefail
STACK=test
PG_PORT=${PG_PORT:-15433}
HTTP_PORT=${HTTP_PORT:-18080}
HTTPS_PORT=${HTTPS_PORT:-18443}
UPSTREAM_PORT=${UPSTREAM_PORT:-18081}
SMTP_PORT=${SMTP_PORT:-12525}
POOL_B_PORT=${POOL_B_PORT:-18090}
# nginx's server whose guarded routes the nginx module checks (when the build made it).
MODULE_PORT=${MODULE_PORT:-18091}
# The nginx that tests/nginx_module/algorithms_test.sh starts for itself.
export MODULE_TEST_PORT=${MODULE_TEST_PORT:-18092}
# Throwaway data: no need to wait for the disk.
PG_FSYNC=off
WORKERS=2
# A table prefix other than WordPress's default, so nothing can quietly assume wp_.
WP_TABLE_PREFIX=wpt_
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$ROOT/build
source "$ROOT/deploy/local/common.sh"

# Pool B is started by the tests (tests/integration/support/stack.cc), which record its
# master here; a test process that died mid-way may have left it running.
POOL_B_PID_FILE=$S/run/cartgate-b.pid

pool_b_down() {
  [[ -s $POOL_B_PID_FILE ]] || return 0
  local pid; pid=$(cat "$POOL_B_PID_FILE")
  # Only a cartgate process: the pid may have been reused since.
  if [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == "$CARTGATE_BIN serve"* ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$POOL_B_PID_FILE"
}

# Waits until the given pids are gone, so nothing outlives this script.
wait_gone() {
  local pid
  for pid in "$@"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && say "warning: process $pid is still running"
  done
  return 0
}

stack_down() {
  local pids=()
  [[ -s $S/run/smtp.pid ]] && pids+=("$(cat "$S/run/smtp.pid")")
  [[ -s $S/nginx/nginx.pid ]] && pids+=("$(cat "$S/nginx/nginx.pid")")
  pool_b_down
  nginx_down
  pool_down
  php_fpm_down
  smtp_down
  mariadb_down
  pg_down
  wait_gone "${pids[@]}"
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  say "stopping the test stack"
  stack_down || true
  exit "$rc"
}

bash "$ROOT/deploy/deps.sh"
build

# Whatever an interrupted earlier run left behind goes first; from here on, everything
# started is stopped on exit.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
stack_down

secrets
pg_up
pg_reset_database
write_config
cli migrate >/dev/null
rm -rf "$S/mail" "$S/log"/*.log
mkdir -p "$S/log"
mariadb_up
mariadb_reset_database
rm -f "$S/wordpress-admin"
wordpress_install
# Routes that cartgate owns, registered inside WordPress as CoCart and its plugins would:
# a request that reaches one proves a spelling got past nginx and the must-use plugin.
install -m 644 "$ROOT/tests/wordpress/decoy-routes.php" "$S/wordpress/wp-content/mu-plugins/"
php_fpm_up
smtp_up
pool_up
nginx_up
wait_http "http://127.0.0.1:$HTTP_PORT/wp-json/cartgate/v1/health"
wait_http "http://127.0.0.1:$HTTP_PORT/"

export CARTGATE_TEST_STATE=$S
export CARTGATE_TEST_CONFIG=$S/cartgate.toml
export CARTGATE_TEST_BINARY=$CARTGATE_BIN
export CARTGATE_TEST_DATABASE_URL; CARTGATE_TEST_DATABASE_URL=$(database_url)
export CARTGATE_TEST_HTTP_PORT=$HTTP_PORT
export CARTGATE_TEST_HTTPS_PORT=$HTTPS_PORT
export CARTGATE_TEST_POOL_B_PORT=$POOL_B_PORT
# Empty without nginx-dev: the module-mode cases then say they are skipped.
export CARTGATE_TEST_MODULE_PORT; CARTGATE_TEST_MODULE_PORT=$([[ -f $NGINX_MODULE_SO ]] && echo "$MODULE_PORT" || true)
export CARTGATE_TEST_UPSTREAM_PORT=$UPSTREAM_PORT
export CARTGATE_TEST_SMTP_PORT=$SMTP_PORT
export CARTGATE_TEST_MAIL_DIR=$S/mail
export CARTGATE_TEST_SOCKET=$S/run/cartgate.sock
export CARTGATE_TEST_SOCKET_B=$S/run/cartgate-b.sock
export CARTGATE_TEST_POOL_PID_FILE=$S/run/cartgate.pid
export CARTGATE_TEST_POOL_B_PID_FILE=$POOL_B_PID_FILE
export CARTGATE_TEST_LOG_DIR=$S/log
export CARTGATE_TEST_PG_BIN=$PG_BIN
export CARTGATE_TEST_PG_DATA=$S/pg/data
export CARTGATE_TEST_PG_LOG=$S/pg/server.log
export CARTGATE_TEST_PG_OPTIONS; CARTGATE_TEST_PG_OPTIONS=$(pg_server_options)
# The storefront: LOGIN:APPLICATION_PASSWORD of WordPress's administrator, and where
# cartgate's MariaDB account finds WordPress's tables (deploy/wordpress/README.md).
export CARTGATE_TEST_WORDPRESS_ADMIN_FILE=$S/wordpress-admin
export CARTGATE_TEST_WORDPRESS_DB_CONFIG=$S/wordpress/cartgate-db.toml
export CARTGATE_TEST_MARIADB_SOCKET=$MARIADB_SOCKET
export CARTGATE_TEST_WORDPRESS_TABLE_PREFIX=$WP_TABLE_PREFIX
# Which /etc/wordpress/config-*.php is the stack's (for PHP run from the tests), and the
# key of the must-use plugin's cookie → token requests.
export CARTGATE_TEST_WORDPRESS_CONFIG_NAME=$WP_CONFIG_NAME
export CARTGATE_TEST_STOREFRONT_KEY_FILE=$S/storefront/key
# Every secret the tests use is written down here, and every NOTIFY payload of the run
# recorded beside it, for the secrets audit (tests/secrets_audit.sh; the recorder ends
# with this script).
rm -rf "$S/secrets-audit" && mkdir -m 700 "$S/secrets-audit"
export CARTGATE_TEST_SECRETS_FILE=$S/secrets-audit/secrets.tsv
bash "$ROOT/tests/secrets_audit.sh" record-notify $$ &

# Every stage runs, whatever an earlier one gave; the summary at the end names each
# stage with its result, and the exit status is non-zero when any stage failed. With
# ctest arguments (a -R subset, say) only the ctest stage runs.
STAGES=()
FAILED=0
stage() {
  local name=$1; shift
  say "stage $name: $*"
  local start=$SECONDS rc=0
  "$@" || rc=$?
  local took=$((SECONDS - start))
  if ((rc == 0)); then
    STAGES+=("$(printf '%-14s passed  %5d s' "$name" "$took")")
  else
    STAGES+=("$(printf '%-14s FAILED  %5d s  (exit status %d)' "$name" "$took" "$rc")")
    FAILED=1
  fi
}

stage ctest ctest --test-dir "$BUILD_DIR" --output-on-failure "$@"
if (($# == 0)); then
  # Further stages, one line each: they run against the stack above, still up.
  stage sanitizers bash "$ROOT/tests/sanitize.sh"
  stage secrets bash "$ROOT/tests/secrets_audit.sh"
  # Fault drills on a stack of their own (other ports; docs/reliability.md).
  stage drills bash "$ROOT/tests/drills/run.sh" --short
  stage fuzz bash "$ROOT/tests/fuzz/run.sh" 8  # every parser's fuzz target 8 s (docs/fuzzing.md)
fi

say "summary"
printf '  %s\n' "${STAGES[@]}" >&2
if ((FAILED)); then
  say "TESTS FAILED; logs in $S/log, $S/nginx/logs, $S/pg/server.log"
  exit 1
fi
