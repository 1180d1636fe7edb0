#!/usr/bin/env bash
# The nginx module's signature check for each algorithm, through a real nginx with the
# module loaded: tokens signed by PyJWT (an independent implementation) with the right
# key get past the signature (no revocation state here, so the module can only answer
# 503: cartgate_fallback off), tokens with a wrong key, another algorithm, a tampered
# payload, a wrong issuer or an expired exp get the 401. ctest runs it (nginx_module_algorithms).
#
#   bash tests/nginx_module/algorithms_test.sh MODULE_SO [PORT]
set -euo pipefail
so=$1
port=${2:-${MODULE_TEST_PORT:-18092}}
dir=$(mktemp -d)
trap 'kill "$(cat "$dir/nginx.pid" 2>/dev/null)" 2>/dev/null || true; sleep 0.2; rm -rf "$dir"' EXIT
cd "$dir"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out es.key 2>/dev/null
openssl pkey -in es.key -pubout -out es.pub
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out es-other.key 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rs.key 2>/dev/null
openssl pkey -in rs.key -pubout -out rs.pub
openssl rand -hex 32 >hs.secret
mkdir -p logs tmp
cat >nginx.conf <<CONF
load_module $so;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events {}
http {
    access_log off;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    cartgate_issuer https://shop.example;
    cartgate_state $dir/no-such.state;
    cartgate_fallback off;
    server {
        listen 127.0.0.1:$port;
        location /es { cartgate_key ES256 $dir/es.pub; cartgate_verify on; }
        location /rs { cartgate_key RS256 $dir/rs.pub; cartgate_verify on; }
        location /hs { cartgate_key HS256 $dir/hs.secret; cartgate_verify on; }
    }
}
CONF
/usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

sign() {  # ALG KEYFILE [ISSUER] [EXP_OFFSET] [TAMPER]
  /usr/bin/python3 - "$@" <<'PY'
import json, sys, time, jwt, base64
alg, keyfile = sys.argv[1], sys.argv[2]
iss = sys.argv[3] if len(sys.argv) > 3 else "https://shop.example"
exp_off = int(sys.argv[4]) if len(sys.argv) > 4 else 3600
key = open(keyfile, "rb").read()
if alg == "HS256": key = key.rstrip(b"\r\n")
now = int(time.time())
claims = {"iss": iss, "iat": now, "nbf": now, "exp": now + exp_off,
          "data": {"user": {"id": 7, "username": "ann", "pat": "pat_0123456789abcdef01234567"}}}
if alg == "HS256-any":  # any bytes as the secret (PyJWT refuses a PEM public key)
    import hmac, hashlib
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    si = b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode()) + "." + b64(json.dumps(claims).encode())
    t = si + "." + b64(hmac.new(key, si.encode(), hashlib.sha256).digest())
else:
    t = jwt.encode(claims, key, algorithm=alg)
if len(sys.argv) > 5:
    h, p, s = t.split(".")
    claims["data"]["user"]["username"] = "admin"
    p = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    t = ".".join([h, p, s])
print(t)
PY
}
fail=0
expect() {  # STATUS PATH WHAT SIGN-ARGUMENTS… (or the token itself after "raw")
  local got token
  if [[ $4 == raw ]]; then token=$5; else token=$(sign "${@:4}") || { echo "FAIL $3: cannot sign"; fail=1; return; }; fi
  got=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port$2")
  if [[ $got == "$1" ]]; then echo "ok   $3 → $got"; else echo "FAIL $3: $got, expected $1"; fail=1; fi
}
# Signature good, state unknown (no file): 503, never 200.
expect 503 /es "ES256 right key" ES256 es.key
expect 503 /rs "RS256 right key" RS256 rs.key
expect 503 /hs "HS256 right secret" HS256 hs.secret
expect 401 /es "ES256 other key" ES256 es-other.key
expect 401 /es "RS256 token on an ES256 route" RS256 rs.key
expect 401 /es "HS256 signed with the public key (algorithm confusion)" HS256-any es.pub
expect 401 /rs "RS256 tampered payload" RS256 rs.key https://shop.example 3600 tamper
expect 401 /es "ES256 wrong issuer" ES256 es.key https://evil.example
expect 401 /hs "HS256 expired" HS256 hs.secret https://shop.example -10
expect 401 /hs "not a token" raw garbage
if grep -q "\[emerg\]\|\[alert\]" logs/error.log; then cat logs/error.log; fail=1; fi
exit "$fail"
