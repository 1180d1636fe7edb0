# Shared by deploy/local/up, deploy/local/down, deploy/local/cartgate and tests/run.sh:
# a private PostgreSQL cluster, the worker pool, nginx, an SMTP sink and the storefront
# (WordPress from Debian's packages on a private MariaDB and PHP-FPM), all on loopback
# or unix sockets, all state in one folder. Source it after setting STACK (a name) and
# the *_PORT values.
#
#   STACK=local PG_PORT=15432 HTTP_PORT=8080 … source deploy/local/common.sh; stack_up

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
CARTGATE_BIN=$BUILD_DIR/cartgate
NGINX_MODULE_SO=$BUILD_DIR/nginx-module/ngx_http_cartgate_module.so

say() { printf 'cartgate[%s]: %s\n' "$STACK" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# The state folder lives in the git-ignored var/ of the checkout. PostgreSQL, MariaDB and
# PHP-FPM run as `postgres`, `mysql` and `www-data` and must be able to reach it; a
# checkout inside a private folder (for example a mktemp -d clone) is not reachable, so
# the state then goes to /var/tmp. (The three are "others" to the checkout's owner
# alike, so the postgres check stands for all of them.)
state_dir() {
  local preferred=$ROOT/var/$STACK
  mkdir -p "$ROOT/var"
  if runuser -u postgres -- test -x "$ROOT/var" 2>/dev/null; then
    echo "$preferred"
  else
    echo "/var/tmp/cartgate-$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)/$STACK"
  fi
}

S=$(state_dir)
# Found again by pg_up when deploy/deps.sh has only just installed PostgreSQL.
find_pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true; }
PG_BIN=$(find_pg_bin)

build() {
  say "building (Release) in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >"$ROOT/var/cmake-configure.log" 2>&1 ||
    { cat "$ROOT/var/cmake-configure.log" >&2; die "cmake configure failed"; }
  cmake --build "$BUILD_DIR" -j "$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\] (Building|Linking|Built)' || true
  [[ ${PIPESTATUS[0]} -eq 0 ]] || die "build failed"
  [[ -x $CARTGATE_BIN ]] || die "build produced no $CARTGATE_BIN"
}

# The accounts a server has too (README, "Secrets and sockets on a server"): cartgate's
# sockets belong to the group cartgate-web, which only nginx's workers are in; they run
# as cartgate-nginx, never as root, and are also in www-data to reach PHP-FPM's socket
# (PHP-FPM itself stays outside cartgate-web: it could claim any client address).
NGINX_USER=cartgate-nginx
SOCKET_GROUP=cartgate-web
stack_accounts() {
  getent group "$SOCKET_GROUP" >/dev/null || groupadd --system "$SOCKET_GROUP"
  id -u "$NGINX_USER" >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --user-group "$NGINX_USER"
  usermod -a -G "$SOCKET_GROUP,www-data" "$NGINX_USER"
}

secrets() {
  stack_accounts
  mkdir -p "$S/secrets"
  chmod 700 "$S/secrets"
  [[ -s $S/secrets/jwt_secret ]] || openssl rand -hex 32 >"$S/secrets/jwt_secret"
  [[ -s $S/secrets/encryption_key ]] || openssl rand -hex 32 >"$S/secrets/encryption_key"
  [[ -s $S/secrets/db_password ]] || openssl rand -hex 24 >"$S/secrets/db_password"
  # The storefront's: MariaDB accounts of WordPress and of cartgate, the WordPress
  # administrator's password and WordPress's eight keys and salts (one a line).
  [[ -s $S/secrets/mariadb_wordpress_password ]] || openssl rand -hex 24 >"$S/secrets/mariadb_wordpress_password"
  [[ -s $S/secrets/mariadb_cartgate_password ]] || openssl rand -hex 24 >"$S/secrets/mariadb_cartgate_password"
  [[ -s $S/secrets/wordpress_admin_password ]] || openssl rand -hex 12 >"$S/secrets/wordpress_admin_password"
  [[ -s $S/secrets/wordpress_salts ]] || for _ in 1 2 3 4 5 6 7 8; do openssl rand -hex 32; done >"$S/secrets/wordpress_salts"
  chmod 600 "$S/secrets"/*
  # The key the must-use plugin signs cookie → token requests with: readable by cartgate
  # and PHP-FPM's www-data, by nobody else (secrets.storefront_key_file).
  mkdir -p "$S/storefront"
  chgrp www-data "$S/storefront" && chmod 750 "$S/storefront"
  [[ -s $S/storefront/key ]] || openssl rand -hex 32 >"$S/storefront/key"
  chgrp www-data "$S/storefront/key" && chmod 640 "$S/storefront/key"
}

database_url() {
  echo "postgresql://cartgate:$(cat "$S/secrets/db_password")@127.0.0.1:$PG_PORT/cartgate"
}

pg_ctl_as_postgres() { runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$S/pg/data" "$@"; }

# The server's command-line settings; tests restart PostgreSQL with the same ones.
pg_server_options() {
  echo "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $S/pg/run -c unix_socket_permissions=0700 -c max_connections=200 -c fsync=${PG_FSYNC:-on}"
}

pg_up() {
  [[ -n $PG_BIN ]] || PG_BIN=$(find_pg_bin)
  [[ -n $PG_BIN ]] || die "PostgreSQL binaries not found under /usr/lib/postgresql"
  mkdir -p "$S/pg"
  chown postgres:postgres "$S/pg"
  chmod 700 "$S/pg"
  if [[ ! -s $S/pg/data/PG_VERSION ]]; then
    say "creating a private PostgreSQL cluster in $S/pg"
    local pwfile=$S/pg/.pw
    cp "$S/secrets/db_password" "$pwfile" && chown postgres "$pwfile"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$S/pg/data" -U postgres --auth-local=peer \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$S/pg/initdb.log" 2>&1 ||
      { cat "$S/pg/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
  fi
  if ! pg_ctl_as_postgres status >/dev/null 2>&1; then
    mkdir -p "$S/pg/run" && chown postgres:postgres "$S/pg/run"
    pg_ctl_as_postgres -l "$S/pg/server.log" -w -t 60 start \
      -o "$(pg_server_options)" \
      >/dev/null || { tail -n 20 "$S/pg/server.log" >&2; die "PostgreSQL did not start"; }
  fi
  # Role and database, idempotently; the password comes from the secrets folder.
  # The password goes on stdin, never on a command line (`ps` shows every argv); it is
  # hex, so it needs no quoting.
  local psql=("$PG_BIN/psql" -h "$S/pg/run" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt)
  { printf "\\set pw '%s'\n" "$(cat "$S/secrets/db_password")"; cat <<'SQL'; } |
SELECT format('CREATE ROLE cartgate LOGIN PASSWORD %L', :'pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cartgate') \gexec
SELECT format('ALTER ROLE cartgate PASSWORD %L', :'pw') \gexec
SELECT 'CREATE DATABASE cartgate OWNER cartgate'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'cartgate') \gexec
SQL
    runuser -u postgres -- "${psql[@]}" -d postgres >/dev/null || die "cannot create the cartgate role"
}

# An empty cartgate database (tests start from a clean state every run): the old one is
# dropped even if a leftover process still holds a connection to it.
pg_reset_database() {
  local psql=("$PG_BIN/psql" -h "$S/pg/run" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt -d postgres)
  runuser -u postgres -- "${psql[@]}" -c 'DROP DATABASE IF EXISTS cartgate WITH (FORCE)' >/dev/null &&
    runuser -u postgres -- "${psql[@]}" -c 'CREATE DATABASE cartgate OWNER cartgate' >/dev/null ||
    die "cannot recreate the cartgate database"
}

pg_down() {
  [[ -d $S/pg/data ]] || return 0
  if pg_ctl_as_postgres status >/dev/null 2>&1; then
    pg_ctl_as_postgres -m fast -w stop >/dev/null || true
  fi
}

# cartgate's [wordpress] table for this stack's storefront (deploy/wordpress/README.md).
wordpress_toml() {
  cat <<TOML
[wordpress]
socket = "$MARIADB_SOCKET"
database = "$WP_DATABASE"
user = "cartgate"
password_file = "$S/secrets/mariadb_cartgate_password"
table_prefix = "$WP_TABLE_PREFIX"
TOML
}

write_config() {
  mkdir -p "$S/run" "$S/log"
  cat >"$S/cartgate.toml" <<TOML
# Generated by deploy/local/common.sh for the "$STACK" stack.
[database]
url = "$(database_url)"

[server]
socket = "$S/run/cartgate.sock"
socket_mode = "0660"
socket_group = "$SOCKET_GROUP"
# The revocation state nginx's cartgate module reads (docs/nginx-module.md).
revocation_state = "$S/run/revocation.state"
# The storefront's PHP (www-data) signs cookie → token requests on the auth socket.
auth_socket_group = "www-data"
workers = ${WORKERS:-2}
threads = ${THREADS:-8}

[jwt]
issuer = "http://127.0.0.1:$HTTP_PORT"
algorithm = "HS256"
secret_file = "$S/secrets/jwt_secret"

[secrets]
encryption_key_file = "$S/secrets/encryption_key"
storefront_key_file = "$S/storefront/key"

[mail]
smtp_url = "smtp://127.0.0.1:$SMTP_PORT"
from = "cartgate@localhost"

[plugins]
# LOCAL_PLUGINS=0 starts the stack without the example plugins (e.g. for benchmarks).
directory = "$([[ ${LOCAL_PLUGINS:-1} == 0 ]] || echo "$BUILD_DIR/plugins")"

[site]
name = "cartgate-$STACK"
admin_email = "admin@localhost"

# The storefront's database: cartgate keeps its accounts in step with WordPress's
# (contract §8; deploy/wordpress/README.md). STOREFRONT_SYNC=0 leaves it out.
$([[ ${STOREFRONT_SYNC:-1} == 0 ]] || wordpress_toml)
TOML
  chmod 600 "$S/cartgate.toml"
}

cli() { CARTGATE_CONFIG=$S/cartgate.toml "$CARTGATE_BIN" "$@"; }

pool_pid() { [[ -s $S/run/cartgate.pid ]] && kill -0 "$(cat "$S/run/cartgate.pid")" 2>/dev/null && cat "$S/run/cartgate.pid"; }

pool_up() {
  if pool_pid >/dev/null; then
    # A rebuilt binary is picked up by a graceful restart.
    pool_down
  fi
  say "starting the worker pool"
  CARTGATE_CONFIG=$S/cartgate.toml setsid "$CARTGATE_BIN" serve >>"$S/log/cartgate.log" 2>&1 &
  echo $! >"$S/run/cartgate.pid"
  for _ in $(seq 1 100); do
    [[ -S $S/run/cartgate.sock ]] && return 0
    kill -0 "$(cat "$S/run/cartgate.pid")" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$S/log/cartgate.log" >&2
  die "the worker pool did not start"
}

pool_down() {
  local pid
  pid=$(pool_pid) || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$S/run/cartgate.pid"
}

tls_cert() {
  mkdir -p "$S/tls"
  if [[ ! -s $S/tls/cert.pem ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=127.0.0.1" \
      -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
      -keyout "$S/tls/key.pem" -out "$S/tls/cert.pem" >/dev/null 2>&1 || die "cannot make a TLS certificate"
    chmod 600 "$S/tls/key.pem"
  fi
}

nginx_up() {
  tls_cert
  mkdir -p "$S/nginx/logs" "$S/nginx/tmp"
  # The workers (not root) write request bodies here. nginx makes its own unix listening
  # sockets 0666, so they live in a folder only its workers can enter.
  chown "$NGINX_USER:" "$S/nginx/tmp"
  mkdir -p "$S/nginx/run"
  chown "root:$NGINX_USER" "$S/nginx/run" && chmod 750 "$S/nginx/run"
  # The operator's snippets, used as they are, with /etc/nginx paths pointed here.
  local f
  for f in cartgate.conf cartgate-fastcgi.conf cartgate-fastcgi-params.conf cartgate-protect.conf \
           cartgate-protect-optional.conf cartgate-proxy-headers.conf cartgate-auth-header.conf \
           cartgate-verify.conf cartgate-verify-optional.conf; do
    sed -e "s|/etc/nginx/cartgate|$S/nginx/cartgate|g" "$ROOT/nginx/$f" >"$S/nginx/$f"
  done
  # With POOL_B_PORT set (tests/run.sh), a second server on that port sends cartgate's
  # routes to a second pool on $S/run/cartgate-b.sock: the `#pool_b ` lines of the
  # template come alive, and the snippets get copies that name upstream cartgate_b.
  local pool_b=(-e '/^[[:space:]]*#pool_b /d')
  if [[ -n ${POOL_B_PORT:-} ]]; then
    pool_b=(-e 's|^\([[:space:]]*\)#pool_b |\1|')
    sed -e 's|fastcgi_pass cartgate;|fastcgi_pass cartgate_b;|' \
        -e 's|proxy_pass http://cartgate_auth;|proxy_pass http://cartgate_b_auth;|' \
        -e "s|$S/nginx/cartgate-fastcgi.conf|$S/nginx/cartgate-b-fastcgi.conf|g" \
        "$S/nginx/cartgate.conf" >"$S/nginx/cartgate-b.conf"
    sed -e 's|fastcgi_pass cartgate;|fastcgi_pass cartgate_b;|' \
        "$S/nginx/cartgate-fastcgi.conf" >"$S/nginx/cartgate-b-fastcgi.conf"
  fi
  # cartgate's nginx module, when the build made it (docs/nginx-module.md); its test
  # server only with MODULE_PORT (tests/run.sh).
  local module=(-e '/^[[:space:]]*#module /d' -e '/^[[:space:]]*#module_port /d')
  if [[ -f $NGINX_MODULE_SO ]]; then
    module=(-e 's|^\([[:space:]]*\)#module |\1|')
    if [[ -n ${MODULE_PORT:-} ]]; then module+=(-e 's|^\([[:space:]]*\)#module_port |\1|');
    else module+=(-e '/^[[:space:]]*#module_port /d'); fi
  fi
  sed -e "s|@SOCKET@|$S/run/cartgate.sock|g" -e "s|@AUTH_SOCKET@|$S/run/cartgate-auth.sock|g" \
      -e "s|@AUTH_SOCKET_B@|$S/run/cartgate-b-auth.sock|g" -e "s|@HTTP_PORT@|$HTTP_PORT|g" \
      -e "s|@HTTPS_PORT@|$HTTPS_PORT|g" -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" \
      -e "s|@STATIC_PORT@|${STATIC_PORT:-0}|g" \
      -e "s|@SOCKET_B@|$S/run/cartgate-b.sock|g" -e "s|@POOL_B_PORT@|${POOL_B_PORT:-0}|g" \
      "${pool_b[@]}" "${module[@]}" \
      -e "s|@MODULE_SO@|$NGINX_MODULE_SO|g" -e "s|@MODULE_PORT@|${MODULE_PORT:-0}|g" \
      -e "s|@STATE@|$S|g" -e "s|@ROOT@|$ROOT|g" -e "s|@WP_CONFIG_NAME@|$WP_CONFIG_NAME|g" \
      -e "s|@NGINX_USER@|$NGINX_USER|g" \
      "$ROOT/nginx/local.conf.in" >"$S/nginx/nginx.conf"
  local nginx=(/usr/sbin/nginx -p "$S/nginx" -c "$S/nginx/nginx.conf" -e "$S/nginx/logs/error.log")
  "${nginx[@]}" -t >"$S/nginx/test.log" 2>&1 || { cat "$S/nginx/test.log" >&2; die "nginx config invalid"; }
  if [[ -s $S/nginx/nginx.pid ]] && kill -0 "$(cat "$S/nginx/nginx.pid")" 2>/dev/null; then
    "${nginx[@]}" -s reload
  else
    # A socket file left by an nginx that did not stop cleanly would block the bind.
    mkdir -p "$S/run"
    rm -f "$S/nginx/run/storefront.sock"
    "${nginx[@]}"
  fi
}

nginx_down() {
  if [[ -s $S/nginx/nginx.pid ]] && kill -0 "$(cat "$S/nginx/nginx.pid")" 2>/dev/null; then
    /usr/sbin/nginx -p "$S/nginx" -c "$S/nginx/nginx.conf" -e "$S/nginx/logs/error.log" -s quit || true
    for _ in $(seq 1 50); do [[ -s $S/nginx/nginx.pid ]] || break; sleep 0.1; done
  fi
}

smtp_up() {
  # aiosmtpd's Mailbox makes the Maildir only when the folder does not exist yet.
  mkdir -p "$S/mail/tmp" "$S/mail/new" "$S/mail/cur"
  if [[ -s $S/run/smtp.pid ]] && kill -0 "$(cat "$S/run/smtp.pid")" 2>/dev/null; then return 0; fi
  setsid /usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$S/mail" \
    >>"$S/log/smtp.log" 2>&1 &
  echo $! >"$S/run/smtp.pid"
}

smtp_down() {
  if [[ -s $S/run/smtp.pid ]]; then
    kill "$(cat "$S/run/smtp.pid")" 2>/dev/null || true
    rm -f "$S/run/smtp.pid"
  fi
}

wait_http() {
  local url=$1
  for _ in $(seq 1 100); do
    curl -sk -o /dev/null "$url" && return 0
    sleep 0.1
  done
  die "no answer from $url"
}

# ---- the storefront (contract §8): MariaDB, PHP-FPM and WordPress ---------------------

WP_DATABASE=wordpress
WP_TABLE_PREFIX=${WP_TABLE_PREFIX:-wp_}
WP_ADMIN_LOGIN=admin
# Debian's /usr/share/wordpress/wp-config.php (which stays as packaged) loads
# /etc/wordpress/config-NAME.php, NAME taken from the WORDPRESS_CONFIG FastCGI parameter
# that our nginx sets (a client cannot: its headers arrive as HTTP_*). NAME is made from
# the state folder, so the stacks of two checkouts never load each other's site.
WP_CONFIG_NAME=cartgate-$STACK-$(printf '%s' "$S" | sha1sum | cut -c1-10)
MARIADB_SOCKET=$S/mariadb/run/mysqld.sock

# The pid in FILE if that process is alive and is PROGRAM (a pid file can outlive its
# process, and the number can be reused by another).
live_pid() {
  local file=$1 program=$2 pid
  [[ -s $file ]] || return 1
  pid=$(cat "$file")
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$program"* ]] || return 1
  echo "$pid"
}

# Stops PROGRAM whose pid is in FILE with SIGNAL, waiting up to SECONDS for it to exit.
stop_pid() {
  local file=$1 program=$2 signal=$3 seconds=$4 pid
  pid=$(live_pid "$file" "$program") || return 0
  kill "-$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((seconds * 10))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  say "warning: $program ($pid) did not stop in ${seconds}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# MariaDB as the server's root, over the private socket (root logs in by unix_socket).
mariadb_root() { mariadb --defaults-file="$S/mariadb/my.cnf" -u root "$@"; }

mariadb_up() {
  [[ -x /usr/sbin/mariadbd ]] || die "MariaDB not found (deploy/deps.sh installs mariadb-server)"
  mkdir -p "$S/mariadb/run" "$S/mariadb/log"
  chown mysql:mysql "$S/mariadb" "$S/mariadb/log"
  # mariadbd makes its socket 0777: the folder keeps it to mysql, WordPress's PHP
  # (www-data) and root (cartgate of this stack).
  chown mysql:www-data "$S/mariadb/run"
  chmod 755 "$S/mariadb"
  chmod 750 "$S/mariadb/run"
  # No networking at all: WordPress, cartgate and the scripts use the socket. The other
  # settings keep a small footprint; the test stack does not wait for the disk.
  cat >"$S/mariadb/my.cnf" <<CNF
# Generated by deploy/local/common.sh for the "$STACK" stack.
[client]
socket = $MARIADB_SOCKET

[mariadbd]
user = mysql
datadir = $S/mariadb/data
socket = $MARIADB_SOCKET
pid-file = $S/mariadb/run/mariadbd.pid
log-error = $S/mariadb/log/error.log
skip-networking
skip-name-resolve
skip-log-bin
performance_schema = OFF
innodb_buffer_pool_size = 32M
innodb_flush_log_at_trx_commit = $([[ ${PG_FSYNC:-on} == off ]] && echo 2 || echo 1)
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
CNF
  if [[ ! -d $S/mariadb/data/mysql ]]; then
    say "creating a private MariaDB in $S/mariadb"
    mariadb-install-db --defaults-file="$S/mariadb/my.cnf" --auth-root-authentication-method=socket \
      --skip-test-db >"$S/mariadb/log/install.log" 2>&1 ||
      { tail -n 20 "$S/mariadb/log/install.log" >&2; die "mariadb-install-db failed"; }
  fi
  if ! live_pid "$S/mariadb/run/mariadbd.pid" mariadbd >/dev/null; then
    setsid /usr/sbin/mariadbd --defaults-file="$S/mariadb/my.cnf" >>"$S/mariadb/log/console.log" 2>&1 &
    local started=$!
    for _ in $(seq 1 300); do
      mariadb-admin --defaults-file="$S/mariadb/my.cnf" -u root --silent ping >/dev/null 2>&1 && break
      kill -0 "$started" 2>/dev/null || break
      sleep 0.1
    done
    mariadb-admin --defaults-file="$S/mariadb/my.cnf" -u root --silent ping >/dev/null 2>&1 ||
      { tail -n 20 "$S/mariadb/log/error.log" >&2; die "MariaDB did not start"; }
  fi
  # WordPress's own account and cartgate's, idempotently; passwords from the secrets
  # folder (hex, so they need no quoting), sent on stdin rather than the command line.
  mariadb_root <<SQL || die "cannot create the storefront's database and accounts"
CREATE DATABASE IF NOT EXISTS $WP_DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'wordpress'@'localhost';
ALTER USER 'wordpress'@'localhost' IDENTIFIED BY '$(cat "$S/secrets/mariadb_wordpress_password")';
GRANT ALL PRIVILEGES ON $WP_DATABASE.* TO 'wordpress'@'localhost';
CREATE USER IF NOT EXISTS 'cartgate'@'localhost';
ALTER USER 'cartgate'@'localhost' IDENTIFIED BY '$(cat "$S/secrets/mariadb_cartgate_password")';
SQL
}

# An empty WordPress (tests start from a clean state every run, like PostgreSQL's).
mariadb_reset_database() {
  mariadb_root -e "DROP DATABASE IF EXISTS $WP_DATABASE; CREATE DATABASE $WP_DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" ||
    die "cannot recreate the $WP_DATABASE database"
}

mariadb_down() {
  # mariadbd finishes what it is doing and flushes InnoDB on SIGTERM.
  stop_pid "$S/mariadb/run/mariadbd.pid" mariadbd TERM 60
}

php_fpm_bin() { ls /usr/sbin/php-fpm* 2>/dev/null | sort -V | tail -n 1 || true; }

php_fpm_up() {
  local bin; bin=$(php_fpm_bin)
  [[ -n $bin ]] || die "PHP-FPM not found (deploy/deps.sh installs php-fpm)"
  mkdir -p "$S/php-fpm" "$S/run" "$S/log"
  touch "$S/log/php-error.log" && chown www-data:www-data "$S/log/php-error.log"
  # A private master (not Debian's service) with one pool as www-data on a socket in the
  # state folder. clear_env keeps the master's environment out of $_SERVER: only
  # nginx's FastCGI parameters can name cartgate's customer (CARTGATE_USER_ID).
  cat >"$S/php-fpm/php-fpm.conf" <<CONF
; Generated by deploy/local/common.sh for the "$STACK" stack.
[global]
pid = $S/php-fpm/php-fpm.pid
error_log = $S/log/php-fpm.log
daemonize = yes

[wordpress]
user = www-data
group = www-data
listen = $S/run/php-fpm.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = dynamic
pm.max_children = 8
pm.start_servers = 2
pm.min_spare_servers = 1
pm.max_spare_servers = 3
clear_env = yes
security.limit_extensions = .php
catch_workers_output = yes
php_admin_value[error_log] = $S/log/php-error.log
php_admin_flag[log_errors] = on
php_admin_flag[display_errors] = off
; WordPress's own mail (password-change notices and the like) goes nowhere: the stack
; has no mail transport for it, and cartgate's mail sink is for cartgate's mail.
php_admin_value[sendmail_path] = /bin/true
CONF
  "$bin" --fpm-config "$S/php-fpm/php-fpm.conf" -t >"$S/php-fpm/test.log" 2>&1 ||
    { cat "$S/php-fpm/test.log" >&2; die "PHP-FPM config invalid"; }
  local pid
  if pid=$(live_pid "$S/php-fpm/php-fpm.pid" php-fpm); then
    # Graceful reload: new settings, and the opcache forgets the old plugin file.
    kill -USR2 "$pid"
  else
    rm -f "$S/run/php-fpm.sock"
    "$bin" --fpm-config "$S/php-fpm/php-fpm.conf" || die "PHP-FPM did not start"
  fi
  for _ in $(seq 1 100); do [[ -S $S/run/php-fpm.sock ]] && return 0; sleep 0.1; done
  tail -n 20 "$S/log/php-fpm.log" >&2
  die "PHP-FPM did not start"
}

php_fpm_down() {
  # SIGQUIT lets each PHP process finish its request.
  stop_pid "$S/php-fpm/php-fpm.pid" php-fpm QUIT 30
}

wordpress_url() { echo "http://127.0.0.1:$HTTP_PORT"; }

# The site's own configuration, content folder and must-use plugin, then wp_install()
# (first run only) and the administrator's application password. Needs mariadb_up.
wordpress_install() {
  [[ -f /usr/share/wordpress/wp-settings.php ]] || die "WordPress not found (deploy/deps.sh installs wordpress)"
  local wp=$S/wordpress content=$S/wordpress/wp-content
  mkdir -p "$content/mu-plugins" "$content/plugins" "$content/themes" "$content/uploads"
  chown www-data:www-data "$content/uploads"
  # Themes come from Debian's packages, used in place.
  local theme
  for theme in /usr/share/wordpress/wp-content/themes/*/; do
    ln -sfn "${theme%/}" "$content/themes/$(basename "$theme")"
  done
  install -m 644 "$ROOT/deploy/wordpress/cartgate.php" "$content/mu-plugins/cartgate.php"

  local salts; mapfile -t salts <"$S/secrets/wordpress_salts"
  ((${#salts[@]} == 8)) || die "$S/secrets/wordpress_salts should hold 8 lines"
  # Readable by PHP-FPM's www-data and nobody else: it holds the database password.
  install -m 640 -g www-data /dev/null "$wp/wp-config.php"
  cat >"$wp/wp-config.php" <<PHP
<?php
// Generated by deploy/local/common.sh for the "$STACK" stack; loaded by Debian's
// /usr/share/wordpress/wp-config.php through /etc/wordpress/config-$WP_CONFIG_NAME.php.
define( 'DB_NAME', '$WP_DATABASE' );
define( 'DB_USER', 'wordpress' );
define( 'DB_PASSWORD', '$(cat "$S/secrets/mariadb_wordpress_password")' );
define( 'DB_HOST', 'localhost:$MARIADB_SOCKET' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
\$table_prefix = '$WP_TABLE_PREFIX';

define( 'AUTH_KEY', '${salts[0]}' );
define( 'SECURE_AUTH_KEY', '${salts[1]}' );
define( 'LOGGED_IN_KEY', '${salts[2]}' );
define( 'NONCE_KEY', '${salts[3]}' );
define( 'AUTH_SALT', '${salts[4]}' );
define( 'SECURE_AUTH_SALT', '${salts[5]}' );
define( 'LOGGED_IN_SALT', '${salts[6]}' );
define( 'NONCE_SALT', '${salts[7]}' );

// The same site on both of the stack's ports; links follow the scheme of the request.
if ( isset( \$_SERVER['HTTPS'] ) && 'on' === \$_SERVER['HTTPS'] ) {
	define( 'WP_HOME', 'https://127.0.0.1:$HTTPS_PORT' );
} else {
	define( 'WP_HOME', 'http://127.0.0.1:$HTTP_PORT' );
}
define( 'WP_SITEURL', WP_HOME );
define( 'WP_CONTENT_DIR', '$content' );

// Cookie → token (deploy/wordpress/README.md): the key cartgate checks the must-use
// plugin's requests with, and cartgate's internal socket they go to.
define( 'CARTGATE_STOREFRONT_KEY_FILE', '$S/storefront/key' );
define( 'CARTGATE_INTERNAL_SOCKET', '$S/run/cartgate-auth.sock' );

// A development site: "local" lets application passwords work over plain HTTP on
// loopback. Nothing is fetched from the internet (updates, plugin installs, cron's
// self-requests); code changes come from Debian's packages and this checkout.
define( 'WP_ENVIRONMENT_TYPE', 'local' );
define( 'WP_HTTP_BLOCK_EXTERNAL', true );
define( 'DISALLOW_FILE_MODS', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'DISABLE_WP_CRON', true );
PHP
  # The one file outside the state folder: Debian's per-site hook. Not secret.
  mkdir -p /etc/wordpress
  printf '<?php\n// cartgate %s stack (%s), written by deploy/local/common.sh.\nrequire %s;\n' \
    "$STACK" "$ROOT" "'$wp/wp-config.php'" >"/etc/wordpress/config-$WP_CONFIG_NAME.php"

  local pair
  pair=$({ cat "$S/secrets/wordpress_admin_password"; cut -d: -f2- "$S/wordpress-admin" 2>/dev/null || echo; } |
    php -d sendmail_path=/bin/true "$ROOT/deploy/local/wordpress-install.php" "$WP_CONFIG_NAME" "127.0.0.1:$HTTP_PORT" \
      "cartgate $STACK store" "$WP_ADMIN_LOGIN" "admin@example.com" 2>>"$S/log/wordpress-install.log") ||
    { tail -n 20 "$S/log/wordpress-install.log" >&2; die "WordPress install failed"; }
  install -m 600 /dev/null "$S/wordpress-admin"
  echo "$pair" >"$S/wordpress-admin"

  # cartgate's account reads users and the outbox and may write passwords through;
  # nothing else. The tables exist now (wp_install, the plugin's outbox).
  local p=$WP_DATABASE.$WP_TABLE_PREFIX
  mariadb_root <<SQL || die "cannot grant cartgate's MariaDB account"
GRANT SELECT, UPDATE (user_pass, user_activation_key) ON ${p}users TO 'cartgate'@'localhost';
GRANT SELECT ON ${p}usermeta TO 'cartgate'@'localhost';
GRANT SELECT, DELETE ON ${p}cartgate_outbox TO 'cartgate'@'localhost';
SQL
  # Where cartgate finds WordPress's database, for tools (write_config puts the same
  # [wordpress] table in the stack's cartgate.toml; deploy/wordpress/README.md).
  { echo "# Generated by deploy/local/common.sh for the \"$STACK\" stack."; wordpress_toml; } >"$wp/cartgate-db.toml"
}
