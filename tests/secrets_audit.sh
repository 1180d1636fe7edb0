#!/usr/bin/env bash
# The secrets audit (docs/testing.md, "Secrets audit"): after the test suite, every
# password, token, refresh token, TOTP key and code the tests used — and the test stack's
# own keys and passwords — is looked for where none may be, and any hit fails it:
#
#   cartgate's logs, pool B's, the sanitizer reports      $S/log/*.log, $S/log/sanitizers/
#   nginx's logs, PHP-FPM's and PHP's, MariaDB's, PostgreSQL's server log
#   the audit table and the mail outbox                    (their rows, and also in the dump)
#   NOTIFY payloads of every channel cartgate uses         (recorded during the whole run)
#   pg_dump of the cartgate database, and WordPress's outbox table
#
# and the core-dump settings are checked: no process of the running pool is dumpable
# (PR_SET_DUMPABLE 0, so no core file and no ptrace by the same user), and
# deploy/cartgate.service keeps LimitCORE=0.
#
# Legitimate places, not searched: the mail sink's Maildir ($S/mail: a mail carries the
# code sent to its recipient, by design), the stack's secrets folder, config files and
# the storefront key (they are where the secrets live), and the list of secrets itself.
# Stored hashes (argon2id passwords, SHA-256 of refresh tokens, hashed backup and email
# codes) and sealed values (TOTP keys, mail bodies) are in the dump but never equal the
# plaintext, so they cannot match. How long and short secrets are matched: see the head
# of tests/secrets_audit.py.
#
#   bash tests/secrets_audit.sh                  # the audit (a tests/run.sh stage)
#   bash tests/secrets_audit.sh record-notify PID  # LISTEN until PID exits (tests/run.sh
#                                                # starts it in the background before ctest)
#
# Reads what tests/run.sh exports (CARTGATE_TEST_STATE, CARTGATE_TEST_DATABASE_URL,
# CARTGATE_TEST_PG_BIN, CARTGATE_TEST_SECRETS_FILE, …). Before auditing, it checks that
# it can fail: a log seeded with one of the run's secrets must give a hit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
S=${CARTGATE_TEST_STATE:?run from tests/run.sh}
SECRETS_FILE=${CARTGATE_TEST_SECRETS_FILE:?run from tests/run.sh}
PG_BIN=${CARTGATE_TEST_PG_BIN:?run from tests/run.sh}
url=${CARTGATE_TEST_DATABASE_URL:?run from tests/run.sh}
PG_PORT=${url##*@127.0.0.1:}
PG_PORT=${PG_PORT%%/*}
AUDIT=$(dirname "$SECRETS_FILE")
NOTIFY_LOG=$AUDIT/notify.log
NOTIFY_PID=$AUDIT/notify-recorder.pid
NOTIFY_STOP=$AUDIT/notify-recorder.stop
# cartgate_events first: events_test.cc finds `cartgate events tail` by a backend whose
# last query is a LISTEN on it, and this session's last query moves on at once.
CHANNELS=(cartgate_events cartgate_revoke cartgate_options cartgate_outbox)

say() { printf 'secrets-audit: %s\n' "$*" >&2; }

psql_postgres() {
  runuser -u postgres -- "$PG_BIN/psql" -X -qAt -h "$S/pg/run" -p "$PG_PORT" -d cartgate "$@"
}

# One LISTEN session on every channel, as the postgres superuser over the stack's unix
# socket (no password on any command line). psql prints a notification after the next
# command it runs, so it is asked SELECT 1 five times a second; notifications wait in
# the server's queue meanwhile, none is lost. Tests stop and restart PostgreSQL: the
# session then ends and a new one starts (while PostgreSQL is down nothing is notified).
record_notify() {
  local parent=$1
  echo $$ >"$NOTIFY_PID"
  rm -f "$NOTIFY_STOP"
  running() { kill -0 "$parent" 2>/dev/null && [[ ! -e $NOTIFY_STOP ]]; }
  while running; do
    {
      printf 'SET application_name = %s;\n' "'cartgate-secrets-audit'"
      printf 'LISTEN %s;\n' "${CHANNELS[@]}"
      while running; do echo 'SELECT 1;'; sleep 0.2; done
    } | psql_postgres 2>/dev/null | grep --line-buffered -v '^1$' >>"$NOTIFY_LOG" || true
    running && sleep 0.5
  done
  rm -f "$NOTIFY_PID"
}

if [[ ${1:-} == record-notify ]]; then
  record_notify "${2:?record-notify PID}"
  exit 0
fi

# ---- the audit ---------------------------------------------------------------------

failed=0
fail() { say "FAIL: $*"; failed=1; }

# The recorder ends its session (flushing what it printed) before the payloads are read.
if [[ -s $NOTIFY_PID ]]; then
  touch "$NOTIFY_STOP"
  recorder=$(cat "$NOTIFY_PID")
  for _ in $(seq 1 50); do kill -0 "$recorder" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$recorder" 2>/dev/null && fail "the NOTIFY recorder ($recorder) did not stop"
fi
[[ -f $NOTIFY_LOG ]] || fail "no NOTIFY payloads were recorded ($NOTIFY_LOG missing)"
notifications=$(grep -c '^Asynchronous notification' "$NOTIFY_LOG" 2>/dev/null || true)
say "$notifications NOTIFY payloads recorded"

# The secrets: what the tests recorded, and the stack's own.
work=$(mktemp -d "$AUDIT/run.XXXXXX")
trap 'rm -rf "$work"' EXIT
all=$work/secrets.tsv
[[ -s $SECRETS_FILE ]] || fail "the tests recorded no secret ($SECRETS_FILE empty)"
cat "$SECRETS_FILE" >"$all" 2>/dev/null || true
for f in jwt_secret encryption_key db_password mariadb_wordpress_password mariadb_cartgate_password \
         wordpress_admin_password; do
  [[ -s $S/secrets/$f ]] && printf 'stack_%s\t%s\n' "$f" "$(head -n 1 "$S/secrets/$f")" >>"$all"
done
[[ -s $S/storefront/key ]] && printf 'stack_storefront_key\t%s\n' "$(head -n 1 "$S/storefront/key")" >>"$all"
[[ -s $S/wordpress-admin ]] && printf 'application_password\t%s\n' "$(cut -d: -f2- "$S/wordpress-admin")" >>"$all"
say "$(cut -f1 "$all" | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}')"

# The places searched.
corpus=()
add() { local f; for f in "$@"; do [[ -f $f ]] && corpus+=("$f"); done; return 0; }
shopt -s nullglob
add "$S"/log/*.log "$S"/log/sanitizers/* "$S"/nginx/logs/* "$S"/pg/server.log "$S"/mariadb/log/* \
    "$S"/php-fpm/*.log "$NOTIFY_LOG"
shopt -u nullglob
psql_postgres -c 'COPY (SELECT * FROM audit_events ORDER BY id) TO STDOUT' >"$work/audit_events.tsv" ||
  fail "cannot read the audit table"
psql_postgres -c 'COPY (SELECT * FROM mail_outbox ORDER BY id) TO STDOUT' >"$work/mail_outbox.tsv" ||
  fail "cannot read the mail outbox"
runuser -u postgres -- "$PG_BIN/pg_dump" -h "$S/pg/run" -p "$PG_PORT" cartgate >"$work/pg_dump.sql" ||
  fail "pg_dump failed"
mariadb --defaults-file="$S/mariadb/my.cnf" -u root wordpress -N -B \
  -e "SELECT * FROM ${CARTGATE_TEST_WORDPRESS_TABLE_PREFIX:-wp_}cartgate_outbox" >"$work/wordpress_outbox.tsv" 2>/dev/null ||
  fail "cannot read WordPress's outbox table"
add "$work/audit_events.tsv" "$work/mail_outbox.tsv" "$work/pg_dump.sql" "$work/wordpress_outbox.tsv"
say "$(wc -l <"$work/audit_events.tsv") audit rows, $(wc -c <"$work/pg_dump.sql") bytes of pg_dump, ${#corpus[@]} files"

# The audit can fail: a log seeded with a recorded refresh token and a code (as cartgate
# would write them if it leaked them) must give two hits.
token=$(awk -F'\t' '$1 == "refresh_token" && length($2) >= 64 { print $2; exit }' "$all")
code=$(awk -F'\t' '$1 == "code" && $2 ~ /^[0-9]{6}$/ { print $2; exit }' "$all")
if [[ -n $token ]]; then
  seeded=$work/seeded.log
  printf '{"level":"info","event":"refresh","refresh_token":"%s"}\n' "$token" >"$seeded"
  [[ -n $code ]] && printf '{"level":"info","event":"login_failed","2fa_code":"%s"}\n' "$code" >>"$seeded"
  want=$([[ -n $code ]] && echo 2 || echo 1)
  got=$(/usr/bin/python3 "$ROOT/tests/secrets_audit.py" "$all" "$seeded" 2>/dev/null | grep -c 'found:' || true)
  ((got == want)) || fail "the audit missed secrets planted in a log ($got of $want found)"
else
  fail "no refresh token among the recorded secrets: cannot check that the audit finds one"
fi

/usr/bin/python3 "$ROOT/tests/secrets_audit.py" "$all" "${corpus[@]}" || fail "secrets found (above)"

# Core dumps: no process of the running pool may be dumpable (checked as
# server_hardening_test.cc does, with kcmp() and no CAP_SYS_PTRACE); a sleep of ours
# shows that the check tells a dumpable process apart.
sleep 30 &
control=$!
[[ $(/usr/bin/python3 "$ROOT/tests/secrets_audit.py" --dumpable "$control") == "$control dumpable" ]] ||
  fail "the dumpable check does not see a dumpable process"
kill "$control" 2>/dev/null; wait "$control" 2>/dev/null || true
master=$(cat "${CARTGATE_TEST_POOL_PID_FILE:?}" 2>/dev/null || true)
if [[ -n $master ]] && kill -0 "$master" 2>/dev/null; then
  pool=("$master")
  for stat in /proc/[0-9]*/stat; do
    read -r pid _ _ ppid _ 2>/dev/null <"$stat" || continue
    [[ $ppid == "$master" ]] && pool+=("$pid")
  done
  while read -r pid state; do
    [[ $state == not-dumpable ]] || fail "pool process $pid: $state (it could write a core file)"
  done < <(/usr/bin/python3 "$ROOT/tests/secrets_audit.py" --dumpable "${pool[@]}")
  say "${#pool[@]} pool processes, none dumpable; core_pattern $(cat /proc/sys/kernel/core_pattern)"
else
  fail "the pool is not running (no pid in $CARTGATE_TEST_POOL_PID_FILE)"
fi
grep -qx 'LimitCORE=0' "$ROOT/deploy/cartgate.service" || fail "deploy/cartgate.service lacks LimitCORE=0"

((failed == 0)) && say "no secret found where none may be"
exit "$failed"
