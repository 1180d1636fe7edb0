#!/usr/bin/env python3
"""Helpers of bench/scale.sh (standard library only).

  scale.py csv UID0 FIRST LAST HASH > users.csv     WordPress export rows: login scale_<i>,
                                                    ID UID0+i, for i in FIRST..LAST
  scale.py tokens SECRET_FILE ISSUER UID0 FIRST LAST [STEP] > tokens.txt
                                                    one HS256 token per session pat_<i>
                                                    (user UID0+i, no IP/device binding)
  scale.py latency PORT PATH TOKENS_FILE [--forwarded-for-from N]
                                                    one request per token, in order, on one
                                                    kept-alive connection; prints
                                                    "count p50_ms p99_ms non200"
"""
import base64
import hashlib
import hmac
import http.client
import json
import sys
import time


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def pat(i):
    return "pat_%024x" % i


def cmd_csv(uid0, first, last, hashed):
    out = sys.stdout
    out.write("ID,user_login,user_email,user_pass,first_name,last_name,display_name,roles\n")
    for i in range(first, last + 1):
        out.write("%d,scale_%d,scale_%d@scale.invalid,%s,Scale,User %d,Scale %d,customer\n"
                  % (uid0 + i, i, i, hashed, i, i))


def cmd_tokens(secret_file, issuer, uid0, first, last, step=1):
    with open(secret_file, "rb") as f:
        key = f.read().rstrip(b"\r\n")
    head = b64(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    now = int(time.time())
    out = sys.stdout
    for i in range(first, last + 1, step):
        payload = {"iss": issuer, "iat": now, "nbf": now, "exp": now + 864000,
                   "data": {"user": {"id": uid0 + i, "username": "scale_%d" % i, "ip": "", "device": "",
                                     "pat": pat(i)}}}
        body = b64(json.dumps(payload, separators=(",", ":")).encode())
        sig = hmac.new(key, (head + "." + body).encode(), hashlib.sha256).digest()
        out.write(head + "." + body + "." + b64(sig) + "\n")


def cmd_latency(port, path, tokens_file, forwarded_from=None):
    with open(tokens_file) as f:
        tokens = [t.strip() for t in f if t.strip()]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times, bad = [], 0
    for n, t in enumerate(tokens):
        headers = {"Authorization": "Bearer " + t, "Content-Length": "0"}
        if forwarded_from is not None:
            a = forwarded_from + n
            headers["X-Forwarded-For"] = "10.%d.%d.%d" % ((a >> 16) & 255, (a >> 8) & 255, a & 255)
        start = time.perf_counter()
        conn.request("POST" if "validate" in path else "GET", path, headers=headers)
        r = conn.getresponse()
        r.read()
        times.append((time.perf_counter() - start) * 1000)
        if r.status != 200:
            bad += 1
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print("%d %.2f %.2f %d" % (len(times), pick(0.5), pick(0.99), bad))


def main():
    a = sys.argv[1:]
    if a[0] == "csv":
        cmd_csv(int(a[1]), int(a[2]), int(a[3]), a[4])
    elif a[0] == "tokens":
        cmd_tokens(a[1], a[2], int(a[3]), int(a[4]), int(a[5]), int(a[6]) if len(a) > 6 else 1)
    elif a[0] == "latency":
        fwd = int(a[5]) if len(a) > 5 and a[4] == "--forwarded-for-from" else None
        cmd_latency(int(a[1]), a[2], a[3], fwd)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
