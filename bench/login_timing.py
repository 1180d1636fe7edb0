#!/usr/bin/env python3
"""Login latency of four failing logins, and how far apart their distributions are.

Sends POST /wp-json/cocart/v2/login through nginx, sequentially on one kept-alive
connection, cycling through the cases (unknown user, wrong password on an argon2id, a
WordPress 6.8 bcrypt ($wp$2y$) and a phpass ($P$) account) so they share the machine's
state. For each pair prints the two-sample Kolmogorov-Smirnov statistic D and its
asymptotic p-value: a small D (large p) means timing does not tell the cases apart.

  login_timing.py --port 18580 --samples 200 unknown=nosuchuser argon2=alice bcrypt=bob phpass=carol
"""
import argparse
import http.client
import json
import math
import statistics
import sys
import time


def ks_statistic(a, b):
    """Largest gap between the two empirical CDFs."""
    a, b = sorted(a), sorted(b)
    i = j = 0
    d = 0.0
    while i < len(a) and j < len(b):
        x = min(a[i], b[j])
        while i < len(a) and a[i] <= x:
            i += 1
        while j < len(b) and b[j] <= x:
            j += 1
        d = max(d, abs(i / len(a) - j / len(b)))
    return d


def ks_p_value(d, n, m):
    """Asymptotic two-sided p-value (Kolmogorov distribution, Stephens' correction)."""
    en = math.sqrt(n * m / (n + m))
    lam = (en + 0.12 + 0.11 / en) * d
    if lam < 1e-3:
        return 1.0
    total = 0.0
    for k in range(1, 101):
        total += 2 * (-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam)
    return min(1.0, max(0.0, total))


def one_login(conn, login, password):
    body = json.dumps({"username": login, "password": password})
    start = time.perf_counter()
    conn.request("POST", "/wp-json/cocart/v2/login", body,
                 {"Content-Type": "application/json", "User-Agent": "cartgate-bench/1.0"})
    resp = conn.getresponse()
    resp.read()
    elapsed = time.perf_counter() - start
    if resp.status != 401:
        raise SystemExit(f"login as {login!r} answered {resp.status}, expected 401")
    return elapsed * 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("cases", nargs="+", help="NAME=LOGIN")
    args = ap.parse_args()
    cases = [c.split("=", 1) for c in args.cases]
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
    wrong = "definitely-not-the-password"
    for _ in range(args.warmup):
        for _, login in cases:
            one_login(conn, login, wrong)
    samples = {name: [] for name, _ in cases}
    for _ in range(args.samples):
        for name, login in cases:
            samples[name].append(one_login(conn, login, wrong))

    print(f"| case | n | median ms | p10 ms | p90 ms | mean ms |")
    print(f"|---|---|---|---|---|---|")
    for name, xs in samples.items():
        q = statistics.quantiles(xs, n=10)
        print(f"| {name} | {len(xs)} | {statistics.median(xs):.1f} | {q[0]:.1f} | {q[-1]:.1f} | "
              f"{statistics.fmean(xs):.1f} |")
    print()
    print("| pair | KS D | p-value |")
    print("|---|---|---|")
    names = list(samples)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a, b = samples[names[i]], samples[names[j]]
            d = ks_statistic(a, b)
            print(f"| {names[i]} vs {names[j]} | {d:.3f} | {ks_p_value(d, len(a), len(b)):.3g} |")


if __name__ == "__main__":
    sys.exit(main())
