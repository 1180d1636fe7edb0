#!/usr/bin/env bash
# cartgate's benchmark: every route against its own ceiling, through the local stack's
# nginx (deploy/local/up), all targets measured alternately in the same run so the
# machine's state is shared. wrk (or pgbench) drives each target for -d seconds.
#
#   target      request                                     ceiling (what it is against)
#   static      GET  /bench/static.json                     - (nginx alone)
#   proxy_only  GET  /bench/cart-proxy-only                 static: the guarded route's
#                                                           upstream with no auth at all
#   cart        GET  /wp-json/cocart/v2/cart  (Bearer)      proxy_only: auth_request →
#                                                           cartgate's auth socket → stand-in
#   cart_tcp    GET  /bench/cart-tcp          (Bearer)      proxy_only: the same, stand-in
#                                                           over TCP
#   free_auth   GET  /bench/cart-free-auth                  proxy_only: an auth subrequest
#                                                           nginx answers itself
#   in_nginx    GET  /bench/cart-in-nginx     (Bearer)      proxy_only: the token checked
#                                                           inside nginx; measured only when
#                                                           that URL answers 200
#   validate    POST /wp-json/cocart/jwt/validate-token     static: cartgate over FastCGI
#   me          GET  /wp-json/cartgate/v1/me  (Bearer)      static: cartgate over FastCGI
#   login       POST /wp-json/cocart/v2/login (no 2FA)      argon2: cores / seconds of one
#                                                           argon2id hash at the configured
#                                                           cost (build/argon2_bound); also
#                                                           shown against login_work: cores /
#                                                           a login's whole password work
#                                                           (argon2id + bcrypt + phpass)
#   refresh     POST /wp-json/cocart/jwt/refresh-token      pgbench: simple-update (-N)
#                                                           transactions/s on the same
#                                                           PostgreSQL, same clients
#
# Each round runs every target twice over: once with the example plugins loaded and once
# without (the pool is restarted between the two phases with the same configuration but
# [plugins] directory), so the two are side by side too. Per run: req/s, p50, p99,
# non-2xx, and the CPU split (CPU seconds per second of the nginx processes, the
# cartgate pool, PostgreSQL's processes, the load generator, and the rest of the
# machine), read from /proc before and after. Then the mean per phase and target, its
# ceiling and the ratio.
#
#   bash bench/run.sh                     # 64 connections, 2 threads, 10 s per run, 2 rounds
#   bash bench/run.sh -d 5 -r 1 --json    # shorter; JSON summary on stdout
#   options: -d SECONDS  -c CONNECTIONS  -t THREADS  -r ROUNDS  --json
#            --phases "plugins no_plugins"   (either or both, in that order)
#
# The run makes (once, kept) a bench user with a token from `cartgate jwt create` (no
# IP/User-Agent binding), 8 login accounts whose password is set afresh for the run, and
# refresh accounts whose tokens are made afresh before each refresh run (4 sessions each);
# a scratch database cartgate_pgbench on the stack's cluster (`pgbench -i`, dropped at the
# end). Login's, refresh-token's and validate-token's rate limits are lifted for the run
# and put back as they were afterwards, whatever happens; so is the pool's configuration.
set -euo pipefail
DURATION=10
CONNECTIONS=64
THREADS=2
ROUNDS=2
JSON=0
PHASES="plugins no_plugins"
while (($#)); do
  case $1 in
    -d) DURATION=$2; shift 2 ;;
    -c) CONNECTIONS=$2; shift 2 ;;
    -t) THREADS=$2; shift 2 ;;
    -r) ROUNDS=$2; shift 2 ;;
    --json) JSON=1; shift ;;
    --phases) PHASES=$2; shift 2 ;;
    -h|--help) sed -n '2,50p' "$0"; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
for phase in $PHASES; do
  [[ $phase == plugins || $phase == no_plugins ]] || { echo "bench: unknown phase $phase" >&2; exit 2; }
done

# The local stack's functions (pool_up, cli, the state folder), on its ports.
STACK=local
PG_PORT=${PG_PORT:-15432}
HTTP_PORT=${HTTP_PORT:-8080}
HTTPS_PORT=${HTTPS_PORT:-8443}
UPSTREAM_PORT=${UPSTREAM_PORT:-8081}
SMTP_PORT=${SMTP_PORT:-2525}
source "$(dirname "$0")/../deploy/local/common.sh"
say() { printf 'bench: %s\n' "$*" >&2; }
BASE=http://127.0.0.1:$HTTP_PORT
command -v wrk >/dev/null || { say "wrk is not installed (apt-get install wrk)"; exit 1; }

if ! curl -sf -o /dev/null "$BASE/wp-json/cartgate/v1/health"; then
  say "local stack not answering; starting it (deploy/local/up)"
  PG_PORT=$PG_PORT HTTP_PORT=$HTTP_PORT HTTPS_PORT=$HTTPS_PORT UPSTREAM_PORT=$UPSTREAM_PORT SMTP_PORT=$SMTP_PORT \
    bash "$ROOT/deploy/local/up" >&2
fi
ARGON2_BOUND_BIN=$BUILD_DIR/argon2_bound
if [[ ! -x $ARGON2_BOUND_BIN || $ARGON2_BOUND_BIN -ot $ROOT/bench/argon2_bound.cc ]]; then
  cmake --build "$BUILD_DIR" --target argon2_bound >&2
fi

WORK=$(mktemp -d)
CONF=$S/cartgate.toml
cp -p "$CONF" "$WORK/cartgate.toml.saved"

# ---- accounts ------------------------------------------------------------------------
# grep reads the whole listing (no -q): with -q it would exit at the first match, and
# under pipefail the listing's SIGPIPE would read as "no such user" on a stack with many.
cli user list | cut -f2 >"$WORK/users"
has_user() { grep -x "$1" "$WORK/users" >/dev/null; }
add_user() {  # LOGIN PASSWORD
  printf '%s\n' "$2" | cli user add "$1" --email "$1@bench.invalid" >/dev/null
}
BENCH_USER=cartgate_bench
has_user "$BENCH_USER" || add_user "$BENCH_USER" "$(openssl rand -hex 16)"
TOKEN=$(cli jwt create --user="$BENCH_USER" | head -n 1)
export CARTGATE_BENCH_TOKEN=$TOKEN

LOGIN_ACCOUNTS=8
CARTGATE_BENCH_PASSWORD=$(openssl rand -hex 16)
export CARTGATE_BENCH_PASSWORD
logins=()
for ((i = 1; i <= LOGIN_ACCOUNTS; i++)); do
  name=cartgate_bench_login_$i
  logins+=("$name")
  if has_user "$name"; then
    printf '%s\n' "$CARTGATE_BENCH_PASSWORD" | cli user passwd "$name" >/dev/null 2>&1
  else
    add_user "$name" "$CARTGATE_BENCH_PASSWORD"
  fi
done
CARTGATE_BENCH_LOGINS=$(IFS=,; echo "${logins[*]}")
export CARTGATE_BENCH_LOGINS

# Refresh: one chain per connection and a quarter more as spares (a chain whose answer
# never came, e.g. a connection wrk gave up on, is lost: the spares take over), at most 4
# sessions per account (jwt.max_sessions is 5 by default; a fifth would evict a chain's
# session).
PER_ACCOUNT=4
REFRESH_ACCOUNTS=$(((CONNECTIONS * 5 / 4 + PER_ACCOUNT - 1) / PER_ACCOUNT))
for ((i = 1; i <= REFRESH_ACCOUNTS; i++)); do
  has_user "cartgate_bench_refresh_$i" || add_user "cartgate_bench_refresh_$i" "$(openssl rand -hex 16)"
done
export CARTGATE_BENCH_REFRESH_FILE=$WORK/refresh-tokens CARTGATE_BENCH_THREADS=$THREADS
refresh_tokens() {
  local i k
  # Account after account, so the parallel `jwt create`s are for different accounts (two
  # for the same one could each evict the other's new session).
  for ((k = 1; k <= PER_ACCOUNT; k++)); do
    for ((i = 1; i <= REFRESH_ACCOUNTS; i++)); do echo "cartgate_bench_refresh_$i"; done
  done | xargs -P 4 -I{} sh -c 'CARTGATE_CONFIG="$1" "$2" jwt create --user="$3" | sed -n 2p' _ "$CONF" "$CARTGATE_BIN" {} \
    >"$CARTGATE_BENCH_REFRESH_FILE"
  local n
  n=$(grep -c . "$CARTGATE_BENCH_REFRESH_FILE" || true)
  ((n >= CONNECTIONS)) || say "warning: only $n refresh tokens for $CONNECTIONS connections"
}

# ---- options lifted for the run, the configuration, the scratch database: put back ---
LIFTED=(rate_limit.login.max rate_limit.refresh.max rate_limit.validate.max)
cli option list >"$WORK/options"
PSQL=(runuser -u postgres -- "$PG_BIN/psql" -h "$S/pg/run" -p "$PG_PORT" -U postgres -qAt -d postgres)
PGBENCH_DB=cartgate_pgbench
restore() {
  local opt value state
  for opt in "${LIFTED[@]}"; do
    read -r _ value state _ < <(grep "^$opt " "$WORK/options")
    if [[ $state == set ]]; then cli option set "$opt" "$value" >/dev/null; else cli option unset "$opt" >/dev/null; fi
    say "restored $opt ($state${state:+ }$value)"
  done
  if ! cmp -s "$WORK/cartgate.toml.saved" "$CONF"; then
    cp -p "$WORK/cartgate.toml.saved" "$CONF"
    pool_up 2>/dev/null && say "pool restarted with its own configuration"
  fi
  "${PSQL[@]}" -c "DROP DATABASE IF EXISTS $PGBENCH_DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap restore EXIT
for opt in "${LIFTED[@]}"; do cli option set "$opt" -1 >/dev/null; done

"${PSQL[@]}" -c "DROP DATABASE IF EXISTS $PGBENCH_DB" >/dev/null
"${PSQL[@]}" -c "CREATE DATABASE $PGBENCH_DB" >/dev/null
runuser -u postgres -- "$PG_BIN/pgbench" -h "$S/pg/run" -p "$PG_PORT" -U postgres -i -q -s 1 "$PGBENCH_DB" \
  >"$WORK/pgbench-init.log" 2>&1 || { cat "$WORK/pgbench-init.log" >&2; exit 1; }

# ---- phases: the pool with or without the example plugins -----------------------------
PLUGIN_DIR=$BUILD_DIR/plugins
use_phase() {
  local dir=
  [[ $1 == plugins ]] && dir=$PLUGIN_DIR
  cp -p "$WORK/cartgate.toml.saved" "$CONF"
  sed -i "s|^directory = .*|directory = \"$dir\"|" "$CONF"
  pool_up 2>/dev/null
  # A token issued after this pool's start: the revocation state nginx's module reads is
  # reset when its writer starts, and it sends older tokens to the auth subrequest
  # (docs/nginx-module.md), so a token from before the restart would measure that instead.
  # The module decides only tokens issued more than CARTGATE_STATE_SKEW (2 s) after the
  # writer's reset, which comes a moment after the pool answers: wait past both.
  sleep 4
  TOKEN=$(cli jwt create --user="$BENCH_USER" | head -n 1)
  export CARTGATE_BENCH_TOKEN=$TOKEN
  AUTH=(-H "Authorization: Bearer $TOKEN")
  local code
  for _ in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/wp-json/cocart/v2/cart")
    [[ $code == 200 ]] && break
    sleep 0.1
  done
  # Warm up: every worker has seen the token and its session.
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -H "Authorization: Bearer $TOKEN" "$BASE/wp-json/cocart/v2/cart" >/dev/null
}

# Sanity: every target answers 200 before anything is measured.
check() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' "$@")
  [[ $code == 200 ]] || { say "pre-check failed (HTTP $code): $*"; exit 1; }
}
json_login() { printf '{"username":"%s","password":"%s"}' "${logins[0]}" "$CARTGATE_BENCH_PASSWORD"; }
precheck() {
  check "$BASE/bench/static.json"
  check "$BASE/bench/cart-proxy-only"
  check -H "Authorization: Bearer $TOKEN" "$BASE/wp-json/cocart/v2/cart"
  check -H "Authorization: Bearer $TOKEN" "$BASE/bench/cart-tcp"
  check "$BASE/bench/cart-free-auth"
  check -X POST -H "Authorization: Bearer $TOKEN" "$BASE/wp-json/cocart/jwt/validate-token"
  check -H "Authorization: Bearer $TOKEN" "$BASE/wp-json/cartgate/v1/me"
  json_login | check -X POST -H 'Content-Type: application/json' --data-binary @- "$BASE/wp-json/cocart/v2/login"
}
IN_NGINX=0
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/bench/cart-in-nginx")
if [[ $code == 200 ]]; then IN_NGINX=1; else say "in_nginx: not available (module not built)"; fi

# ---- CPU split ---------------------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
# Clock ticks of a process group: the leader and its children (utime + stime), and what
# the children that already exited left in their parent's cutime + cstime.
group_ticks() {
  local leader=$1 pids
  [[ -n $leader ]] && kill -0 "$leader" 2>/dev/null || { echo 0; return; }
  pids=("$leader" $(pgrep -P "$leader" || true))
  (cd /proc && cat "${pids[@]/%//stat}" 2>/dev/null) | awk '{ sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15 } END { print t + 0 }'
}
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
NGINX_PID=$(cat "$S/nginx/nginx.pid")
PG_PID=$(head -n 1 "$S/pg/data/postmaster.pid")
cpu_sample() { echo "$(group_ticks "$NGINX_PID") $(group_ticks "$(pool_pid || true)") $(group_ticks "$PG_PID") $(machine_ticks)"; }

# wrk's latency figures come as 812.00us / 1.23ms / 1.01s: to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f", n }'
}

RESULTS=$WORK/results  # "phase target rps p50 p99 non2xx nginx cartgate postgres loadgen other"
: >"$RESULTS"
WRK=(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency)
AUTH=(-H "Authorization: Bearer $TOKEN")
run_one() {
  local phase=$1 target=$2 before after out rps p50 p99 bad
  [[ $target == refresh ]] && refresh_tokens
  before=$(cpu_sample)
  local TIMEFORMAT='%3U %3S %3R'
  {
    time case $target in
      static) "${WRK[@]}" "$BASE/bench/static.json" ;;
      proxy_only) "${WRK[@]}" "$BASE/bench/cart-proxy-only" ;;
      cart) "${WRK[@]}" "${AUTH[@]}" "$BASE/wp-json/cocart/v2/cart" ;;
      cart_tcp) "${WRK[@]}" "${AUTH[@]}" "$BASE/bench/cart-tcp" ;;
      free_auth) "${WRK[@]}" "${AUTH[@]}" "$BASE/bench/cart-free-auth" ;;
      in_nginx) "${WRK[@]}" "${AUTH[@]}" "$BASE/bench/cart-in-nginx" ;;
      validate) "${WRK[@]}" -s "$ROOT/bench/validate.lua" "$BASE/wp-json/cocart/jwt/validate-token" ;;
      me) "${WRK[@]}" "${AUTH[@]}" "$BASE/wp-json/cartgate/v1/me" ;;
      login) "${WRK[@]}" --timeout 10s -s "$ROOT/bench/login_success.lua" "$BASE/wp-json/cocart/v2/login" ;;
      refresh) "${WRK[@]}" --timeout 10s -s "$ROOT/bench/refresh_chain.lua" "$BASE/wp-json/cocart/jwt/refresh-token" ;;
      # pgbench counts its -T from before its clients connect (64 backends took 3.5 s to
      # start on the loaded machine) and leaves that time out of its tps: 5 s more for it.
      pgbench) runuser -u postgres -- "$PG_BIN/pgbench" -h "$S/pg/run" -p "$PG_PORT" -U postgres -n -N \
                 -c "$CONNECTIONS" -j "$THREADS" -T "$((DURATION + 5))" "$PGBENCH_DB" 2>&1 ;;
    esac >"$WORK/out"
  } 2>"$WORK/time"
  after=$(cpu_sample)
  out=$(cat "$WORK/out")
  if [[ $target == pgbench ]]; then
    rps=$(awk '/^tps = / { print $3; exit }' <<<"$out")
    p50=$(awk '/^latency average = / { print $4 }' <<<"$out")  # the mean: pgbench has no percentiles
    p99=null
    bad=$(awk '/^number of failed transactions: / { print $5 }' <<<"$out")
  else
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  fi
  bad=${bad:-0}
  local cpu
  # CPU seconds per second of the run's wall time (bash's `time`: user, system, real).
  cpu=$(awk -v b="$before" -v a="$after" -v t="$(tail -n 1 "$WORK/time")" -v hz="$CLK_TCK" 'BEGIN {
    split(b, x); split(a, y); split(t, w); d = w[3]
    ng = (y[1] - x[1]) / hz / d; cg = (y[2] - x[2]) / hz / d; pg = (y[3] - x[3]) / hz / d
    lg = (w[1] + w[2]) / d; all = (y[4] - x[4]) / hz / d
    other = all - ng - cg - pg - lg; if (other < 0) other = 0
    printf "%.2f %.2f %.2f %.2f %.2f", ng, cg, pg, lg, other }')
  echo "$phase $target ${rps:-0} ${p50:-0} ${p99:-0} $bad $cpu" >>"$RESULTS"
  read -r ng cg pg lg other <<<"$cpu"
  printf '%-10s %-10s %10s/s p50 %8s ms p99 %8s ms non-2xx %-4s cpu: nginx %s cartgate %s pg %s load %s other %s\n' \
    "$phase" "$target" "$rps" "$p50" "$p99" "$bad" "$ng" "$cg" "$pg" "$lg" "$other" >&2
  grep -h "statuses" "$WORK/out" | sed 's/^/                      /' >&2 || true
  ((bad == 0)) || say "warning: $phase $target had $bad non-2xx answers"
}
argon2_bound() {
  local line
  line=$(CARTGATE_CONFIG=$CONF "$ARGON2_BOUND_BIN" 20)
  # argon2_bound m=… t=… p=… hashes=… median_ms=X cores=N bound_per_s=Y
  #              login_work_median_ms=X login_work_bound_per_s=Y
  awk -v phase="$1" '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%s argon2 %s %s null 0 0 0 0 0 0\n", phase, v["bound_per_s"], v["median_ms"]
    printf "%s login_work %s %s null 0 0 0 0 0 0\n", phase, v["login_work_bound_per_s"], v["login_work_median_ms"] }' \
    <<<"$line" >>"$RESULTS"
  say "$1 argon2: $line"
}

TARGETS=(static proxy_only cart cart_tcp free_auth)
((IN_NGINX)) && TARGETS+=(in_nginx)
TARGETS+=(validate me refresh pgbench login)
say "wrk: $CONNECTIONS connections, $THREADS threads, ${DURATION}s per run, $ROUNDS rounds, phases: $PHASES; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for ((round = 1; round <= ROUNDS; round++)); do
  for phase in $PHASES; do
    use_phase "$phase"
    ((round == 1)) && precheck
    for target in "${TARGETS[@]}"; do run_one "$phase" "$target"; done
    argon2_bound "$phase"
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- summary: means per phase and target, each against its ceiling ---------------------
python3 - "$RESULTS" "$JSON" "$IN_NGINX" "$CONNECTIONS" "$THREADS" "$DURATION" "$ROUNDS" "$(nproc)" \
  "$LOAD_BEFORE" "$LOAD_AFTER" <<'PY'
import json, sys
path, want_json, in_nginx = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
conns, threads, seconds, rounds, cpus = map(int, sys.argv[4:9])
ceiling = {"static": None, "proxy_only": "static", "cart": "proxy_only", "cart_tcp": "proxy_only",
           "free_auth": "proxy_only", "in_nginx": "proxy_only", "validate": "static", "me": "static",
           "login": "argon2", "refresh": "pgbench", "pgbench": None, "argon2": None, "login_work": None}
order = ["static", "proxy_only", "cart", "cart_tcp", "free_auth", "in_nginx", "validate", "me",
         "login", "argon2", "login_work", "refresh", "pgbench"]
runs = {}
for line in open(path):
    f = line.split()
    runs.setdefault(f[0], {}).setdefault(f[1], []).append(f[2:])
num = lambda v: None if v == "null" else float(v)
mean = lambda xs: sum(xs) / len(xs)
out = {"connections": conns, "threads": threads, "seconds": seconds, "rounds": rounds, "cpus": cpus,
       "load_before": sys.argv[9], "load_after": sys.argv[10], "phases": {}}
for phase, targets in runs.items():
    res = {}
    for t, rs in targets.items():
        p99s = [num(r[2]) for r in rs if num(r[2]) is not None]
        res[t] = {"rps": round(mean([float(r[0]) for r in rs]), 1),
                  "p50_ms": round(mean([float(r[1]) for r in rs]), 3),
                  "p99_ms": round(mean(p99s), 3) if p99s else None,
                  "worst_p99_ms": max(p99s) if p99s else None,
                  "non_2xx": sum(int(r[3]) for r in rs), "runs": len(rs)}
        if t not in ("argon2", "login_work"):
            res[t]["cpu"] = dict(zip(["nginx", "cartgate", "postgres", "load_generator", "other"],
                                     [round(mean([float(r[i]) for r in rs]), 2) for i in range(4, 9)]))
    for t, r in res.items():
        c = ceiling.get(t)
        r["ceiling"] = c
        r["ceiling_rps"] = res[c]["rps"] if c in res else None
        r["ratio"] = round(r["rps"] / r["ceiling_rps"], 3) if r["ceiling_rps"] else None
    # The login's own password work (argon2id + bcrypt + phpass, as every login path runs
    # them): a second bound, beside the argon2 one the login is measured against.
    if "login" in res and "login_work" in res and res["login_work"]["rps"]:
        res["login"]["ratio_to_login_work"] = round(res["login"]["rps"] / res["login_work"]["rps"], 3)
    for b in ("argon2", "login_work"):
        if b in res:
            res[b]["median_hash_ms"] = res[b].pop("p50_ms")
            for k in ("p99_ms", "worst_p99_ms", "non_2xx"):
                res[b].pop(k)
            res[b]["bound_per_s"] = res[b].pop("rps")
    if "pgbench" in res:
        res["pgbench"]["latency_mean_ms"] = res["pgbench"].pop("p50_ms")
        for k in ("p99_ms", "worst_p99_ms"):
            res["pgbench"].pop(k)
    if not in_nginx:
        res["in_nginx"] = None
    out["phases"][phase] = {t: res[t] for t in order if t in res}

w = sys.stderr
print(file=w)
print("%-10s %-10s %10s %9s %9s %7s %-10s %10s %7s  %s" % ("phase", "target", "req/s", "p50 ms", "p99 ms",
      "non2xx", "ceiling", "ceil/s", "ratio", "cpu: nginx cartgate pg load other"), file=w)
for phase, res in out["phases"].items():
    for t, r in res.items():
        if r is None:
            print("%-10s %-10s not available (module not built)" % (phase, t), file=w)
            continue
        rps = r.get("rps", r.get("bound_per_s"))
        p50 = r.get("p50_ms", r.get("median_hash_ms", r.get("latency_mean_ms")))
        p99 = r.get("p99_ms")
        cpu = r.get("cpu")
        print("%-10s %-10s %10.1f %9.3f %9s %7s %-10s %10s %7s  %s" % (
            phase, t, rps, p50, "-" if p99 is None else "%.3f" % p99, r.get("non_2xx", "-"), r["ceiling"] or "-",
            "-" if r["ceiling_rps"] is None else "%.1f" % r["ceiling_rps"],
            "-" if r["ratio"] is None else "%.3f" % r["ratio"],
            "" if not cpu else " ".join("%.2f" % v for v in cpu.values())), file=w)
print("(argon2: bound_per_s = cores / median seconds of one argon2id hash; login_work: the same for a login's"
      " whole password work, argon2id + bcrypt + phpass; pgbench: tps, latency is the mean)", file=w)
for phase, res in out["phases"].items():
    if res.get("login") and "ratio_to_login_work" in res["login"]:
        print("%s login / login_work bound: %.3f" % (phase, res["login"]["ratio_to_login_work"]), file=w)
if want_json:
    print(json.dumps(out))
PY
