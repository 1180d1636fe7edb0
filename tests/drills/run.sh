#!/usr/bin/env bash
# Fault drills under load (docs/reliability.md). On a private stack of its own
# (PostgreSQL, the worker pool, nginx and the SMTP sink; no storefront), each drill runs
# tests/drills/load.py (95 % guarded requests, 4 % refresh, 1 % login through nginx),
# injects one fault, and counts from the clients and PostgreSQL what was answered and
# what was lost. Prints one table; the exit status is non-zero when a drill lost
# something, answered other than 2xx or 503-in-the-contract's-shape, or did not heal.
# Timings are figures for the docs, never asserted.
#
#   bash tests/drills/run.sh                 # every drill, full length
#   bash tests/drills/run.sh --short         # the CI version: a few seconds per fault
#   bash tests/drills/run.sh pg-restart listen-kill    # some drills only
#
# Drills: pg-restart pg-stop listen-kill worker-kill sigterm sighup smtp-down
#         refuse-writes slow-clients failover (last: it leaves the standby as primary)
#
# Ports (fixed, distinct from tests/run.sh's and deploy/local's defaults; override with
# the variables): PostgreSQL DRILL_PG_PORT=15446, nginx DRILL_HTTP_PORT=20180 /
# DRILL_HTTPS_PORT=20143, stand-in storefront DRILL_UPSTREAM_PORT=20181, SMTP sink
# DRILL_SMTP_PORT=20125, the failover drill's standby DRILL_STANDBY_PORT=15447.
# Everything started here is stopped on exit.
set -euo pipefail
SHORT=0
ONLY=()
while (($#)); do
  case $1 in
    --short) SHORT=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "drills: unknown argument $1" >&2; exit 2 ;;
    *) ONLY+=("$1"); shift ;;
  esac
done

STACK=drills
PG_PORT=${DRILL_PG_PORT:-15446}
HTTP_PORT=${DRILL_HTTP_PORT:-20180}
HTTPS_PORT=${DRILL_HTTPS_PORT:-20143}
UPSTREAM_PORT=${DRILL_UPSTREAM_PORT:-20181}
SMTP_PORT=${DRILL_SMTP_PORT:-20125}
unset POOL_B_PORT
WORKERS=2
PG_FSYNC=off
export STOREFRONT_SYNC=0 LOCAL_PLUGINS=0
DRILLS_DIR=$(cd "$(dirname "$0")" && pwd)
source "$DRILLS_DIR/../../deploy/local/common.sh"
[[ -n ${CARTGATE:-} ]] && CARTGATE_BIN=$CARTGATE
[[ -x $CARTGATE_BIN ]] || build
BASE=http://127.0.0.1:$HTTP_PORT
OUT=$S/drills

# Lengths (seconds): load before the fault, the fault, load after it.
# The load: CLIENTS clients (one user each) at RATE requests a second each.
if ((SHORT)); then
  BEFORE=2 AFTER=3 PG_STOP_SECONDS=3 KILL_SECONDS=4 SMTP_DOWN_SECONDS=5 SLOW_SECONDS=5
  CLIENTS=${DRILL_CLIENTS:-8} RATE=${DRILL_RATE:-25}
else
  BEFORE=5 AFTER=10 PG_STOP_SECONDS=10 KILL_SECONDS=30 SMTP_DOWN_SECONDS=60 SLOW_SECONDS=30
  CLIENTS=${DRILL_CLIENTS:-16} RATE=${DRILL_RATE:-15}
fi
TWOFACTOR_CLIENTS=4
SLOW_CONNECTIONS=${DRILL_SLOW_CONNECTIONS:-1000}

teardown() {
  local rc=$?
  trap - EXIT
  [[ -n ${LOAD_PID:-} ]] && kill "$LOAD_PID" 2>/dev/null || true
  nginx_down
  pool_down
  smtp_down
  standby_down
  pg_down
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

psql_admin() { runuser -u postgres -- "$PG_BIN/psql" -h "$S/pg/run" -p "$PG_PORT" -U postgres -d cartgate -qAtX -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
mark() { echo "$1 $(now)" >>"$DIR/marks"; }
master_pid() { cat "$S/run/cartgate.pid"; }
health() { curl -s -o /dev/null -w '%{http_code}' "$BASE/wp-json/cartgate/v1/health" || true; }

# The stack's cartgate.toml, with the LISTEN connection named in pg_stat_activity (the
# listen-kill drill finds it by that name). DB_HOSTS: the hosts of database.url (the
# failover drill names the primary and the standby).
DB_HOSTS=127.0.0.1:$PG_PORT
DB_PARAMS=
drill_url() {
  local sep=${DB_PARAMS:+?}
  echo "postgresql://cartgate:$(cat "$S/secrets/db_password")@$DB_HOSTS/cartgate$sep$DB_PARAMS"
}
drill_config() {
  write_config
  local url listen
  url=$(drill_url)
  if [[ -n $DB_PARAMS ]]; then listen="$url&application_name=cartgate-listen"; else listen="$url?application_name=cartgate-listen"; fi
  local line out=()
  while IFS= read -r line; do
    if [[ $line == "url = "* ]]; then
      out+=("url = \"$url\"" "listen_url = \"$listen\"")
    else
      out+=("$line")
    fi
  done <"$S/cartgate.toml"
  printf '%s\n' "${out[@]}" >"$S/cartgate.toml"
}

STANDBY_PORT=${DRILL_STANDBY_PORT:-15447}
pg_standby() { runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$S/pg/standby" "$@"; }
standby_down() {
  [[ -d $S/pg/standby ]] || return 0
  pg_standby status >/dev/null 2>&1 && pg_standby -m fast -w stop >/dev/null || true
}

stack_up() {
  pg_down; standby_down; nginx_down; pool_down; smtp_down
  rm -rf "$S/pg/standby" "$S/mail"
  secrets
  pg_up
  pg_reset_database
  drill_config
  cli migrate >/dev/null
  mkdir -p "$S/log"
  smtp_up
  pool_up
  nginx_up
  wait_http "$BASE/wp-json/cartgate/v1/health"
  # The drills' own stack: no rate limit gets in the way of the load, and logins never
  # evict a session (so every session created must still be there).
  local opt
  for opt in rate_limit.login.max rate_limit.refresh.max rate_limit.validate.max jwt.max_sessions; do
    cli option set "$opt" -1 >/dev/null
  done
  say "creating $CLIENTS drill users"
  : >"$S/drill-users"
  local i pw pids=()
  for i in $(seq 1 "$CLIENTS"); do
    pw=$(openssl rand -hex 12)
    echo "$pw" | cli user add "drill$i" --email "drill$i@drills.invalid" >/dev/null &
    pids+=($!)
    echo "drill$i:$pw" >>"$S/drill-users"
  done
  for i in "${pids[@]}"; do wait "$i" || die "cannot create the drill users"; done
  chmod 600 "$S/drill-users"
  # Users with email two-factor on, for the SMTP drill: login:password:email.
  : >"$S/drill-2fa-users"
  for i in $(seq 1 "$TWOFACTOR_CLIENTS"); do
    pw=$(openssl rand -hex 12)
    echo "$pw" | cli user add "drill2fa$i" --email "drill2fa$i@drills.invalid" >/dev/null
    cli 2fa email enable "drill2fa$i" >/dev/null
    echo "drill2fa$i:$pw:drill2fa$i@drills.invalid" >>"$S/drill-2fa-users"
  done
  chmod 600 "$S/drill-2fa-users"
}

# ---- the faults: each runs between the marks fault_start and fault_end ----------------

pg_stop() { pg_ctl_as_postgres -w -t 60 -m fast stop >/dev/null; }
# Starts PostgreSQL and returns as soon as it accepts connections (pg_ctl -w polls only
# once a second; the fault's end is marked from this).
pg_start() {
  pg_ctl_as_postgres -l "$S/pg/server.log" start -o "$(pg_server_options)" >/dev/null
  for _ in $(seq 1 1200); do
    runuser -u postgres -- "$PG_BIN/pg_isready" -q -h "$S/pg/run" -p "$PG_PORT" && return 0
    sleep 0.05
  done
  return 1
}

fault_pg-restart() {
  mark fault_start
  pg_stop
  pg_start
  mark fault_end
}

fault_pg-stop() {
  mark fault_start
  pg_stop
  sleep "$PG_STOP_SECONDS"
  pg_start
  mark fault_end
}

fault_listen-kill() {
  mark fault_start
  local n
  n=$(psql_admin -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                      WHERE application_name = 'cartgate-listen'")
  mark fault_end
  echo "listen connections killed: $n" >"$DIR/fault.txt"
  ((n > 0)) || { say "no LISTEN connection found"; return 1; }
}

fault_worker-kill() {
  mark fault_start
  local end=$((SECONDS + KILL_SECONDS)) killed=0 pid
  while ((SECONDS < end)); do
    pid=$(pgrep -P "$(master_pid)" | shuf -n 1 || true)
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
    sleep 1
  done
  mark fault_end
  echo "workers killed: $killed" >"$DIR/fault.txt"
}

# The SMTP sink down while clients log in with email two-factor codes: the mails wait
# in the outbox and go once it is back.
fault_smtp-down() {
  mark fault_start
  smtp_down
  sleep "$SMTP_DOWN_SECONDS"
  smtp_up
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null && break
    sleep 0.05
  done
  mark fault_end
}

# SIGTERM drains the pool (what is in flight completes) and it exits; the pool is then
# started again, as a service manager's restart would.
fault_sigterm() {
  mark fault_start
  local pid; pid=$(master_pid)
  kill -TERM "$pid"
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  pool_up
  for _ in $(seq 1 100); do [[ $(health) == 200 ]] && break; sleep 0.05; done
  mark fault_end
}

# SIGHUP with a new worker count: the new generation starts, the old one drains.
fault_sighup() {
  WORKERS=3 drill_config
  mark fault_start
  kill -HUP "$(master_pid)"
  local n=0
  for _ in $(seq 1 100); do
    n=$(pgrep -P "$(master_pid)" | wc -l)
    ((n == 3)) && break
    sleep 0.1
  done
  mark fault_end
  echo "workers after SIGHUP: $n" >"$DIR/fault.txt"
  drill_config
}

# PostgreSQL refusing writes, as it does when the disk holding its WAL is full: staged
# without filling a disk, by making every transaction read-only (ALTER SYSTEM + reload
# reaches the open connections too) for PG_STOP_SECONDS.
psql_rw() { runuser -u postgres -- env PGOPTIONS="-c default_transaction_read_only=off" "$PG_BIN/psql" -h "$S/pg/run" -p "$PG_PORT" -U postgres -d cartgate -qAtX -v ON_ERROR_STOP=1 "$@"; }
fault_refuse-writes() {
  mark fault_start
  psql_rw -c "ALTER SYSTEM SET default_transaction_read_only = on" -c "SELECT pg_reload_conf()" >/dev/null
  sleep "$PG_STOP_SECONDS"
  psql_rw -c "ALTER SYSTEM RESET default_transaction_read_only" -c "SELECT pg_reload_conf()" >/dev/null
  mark fault_end
}

# SLOW_CONNECTIONS clients sending a login request a byte a second, beside the load.
fault_slow-clients() {
  mark fault_start
  python3 "$DRILLS_DIR/slow.py" --port "$HTTP_PORT" --connections "$SLOW_CONNECTIONS" \
    --seconds "$SLOW_SECONDS" >"$DIR/fault.txt"
  mark fault_end
}

# Failover: a streaming standby (pg_basebackup -R) on STANDBY_PORT, cartgate pointed at
# both with target_session_attrs=read-write; under load the primary is stopped and the
# standby promoted, and cartgate must follow without a restart. Runs last: the stack's
# database is the promoted standby afterwards.
setup_failover() {
  rm -rf "$S/pg/standby"
  mkdir -p "$S/pg/run-standby" && chown postgres:postgres "$S/pg/run-standby"
  runuser -u postgres -- "$PG_BIN/pg_basebackup" -h "$S/pg/run" -p "$PG_PORT" -U postgres \
    -D "$S/pg/standby" -R -X stream -c fast >/dev/null || die "pg_basebackup failed"
  pg_standby -l "$S/pg/standby.log" -w -t 60 start \
    -o "$(pg_server_options | sed -e "s|-p $PG_PORT|-p $STANDBY_PORT|" -e "s|-k $S/pg/run |-k $S/pg/run-standby |")" \
    >/dev/null || { tail -n 20 "$S/pg/standby.log" >&2; die "the standby did not start"; }
  DB_HOSTS=127.0.0.1:$PG_PORT,127.0.0.1:$STANDBY_PORT DB_PARAMS=target_session_attrs=read-write
  drill_config
  pool_up
  for _ in $(seq 1 100); do [[ $(health) == 200 ]] && break; sleep 0.1; done
}
fault_failover() {
  mark fault_start
  pg_stop
  pg_standby -w -t 60 promote >/dev/null
  for _ in $(seq 1 1200); do
    [[ $(runuser -u postgres -- "$PG_BIN/psql" -h "$S/pg/run-standby" -p "$STANDBY_PORT" -U postgres -d cartgate \
          -qAtX -c "SELECT pg_is_in_recovery()" 2>/dev/null) == f ]] && break
    sleep 0.05
  done
  mark fault_end
}

run_drill() {
  local name=$1
  DIR=$OUT/$name
  rm -rf "$DIR" && mkdir -p "$DIR"
  say "drill $name"
  [[ $(health) == 200 ]] || die "the stack is not healthy before $name"
  local extra=()
  [[ $name == failover ]] && setup_failover
  [[ $name == smtp-down ]] && extra=(--twofactor-users "$S/drill-2fa-users" --maildir "$S/mail")
  # The CI version reports, without failing, a session revoked as reuse after a refresh
  # answer was lost (a worker killed between commit and answer; docs/reliability.md).
  ((SHORT)) && extra+=(--tolerate-doubt-reuse)
  DRILL_DATABASE_URL=$(drill_url | sed 's|//cartgate:[^@]*@|//cartgate@|') \
    PGPASSWORD=$(cat "$S/secrets/db_password") DRILL_PSQL=$PG_BIN/psql \
    python3 "$DRILLS_DIR/load.py" run --base "$BASE" --users "$S/drill-users" --state "$DIR" \
      --clients "$CLIENTS" --rate "$RATE" "${extra[@]}" >"$DIR/load.log" 2>&1 &
  LOAD_PID=$!
  for _ in $(seq 1 600); do
    [[ -e $DIR/ready ]] && break
    kill -0 "$LOAD_PID" 2>/dev/null || break
    sleep 0.1
  done
  [[ -e $DIR/ready ]] || { cat "$DIR/load.log" >&2; die "the load client did not start"; }
  sleep "$BEFORE"
  local rc=0
  "fault_$name" || rc=$?
  sleep "$AFTER"
  touch "$DIR/stop"
  wait "$LOAD_PID" || rc=$?
  LOAD_PID=
  ((rc == 0)) || say "drill $name: fault or load client failed (exit status $rc)"
  # Between drills: the stack is whole again.
  for _ in $(seq 1 100); do [[ $(health) == 200 ]] && break; sleep 0.1; done
}

ALL=(pg-restart pg-stop listen-kill worker-kill sigterm sighup smtp-down refuse-writes slow-clients failover)
((${#ONLY[@]})) || ONLY=("${ALL[@]}")
for d in "${ONLY[@]}"; do
  declare -F "fault_$d" >/dev/null || die "no drill named $d (drills: ${ALL[*]})"
done
# failover leaves the promoted standby as the stack's database: it always runs last.
ordered=()
for d in "${ONLY[@]}"; do [[ $d == failover ]] || ordered+=("$d"); done
((${#ordered[@]} < ${#ONLY[@]})) && ordered+=(failover)
ONLY=("${ordered[@]}")

stack_up
rm -rf "$OUT" && mkdir -p "$OUT"
for d in "${ONLY[@]}"; do run_drill "$d"; done

say "drills ($( ((SHORT)) && echo short || echo full ); $CLIENTS clients at $RATE requests/s each; mix 95 % guarded, 4 % refresh, 1 % login)"
dirs=()
for d in "${ONLY[@]}"; do dirs+=("$OUT/$d"); done
python3 "$DRILLS_DIR/load.py" table "${dirs[@]}"
