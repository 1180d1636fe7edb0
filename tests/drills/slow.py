#!/usr/bin/env python3
"""Slow clients for tests/drills/run.sh: CONNECTIONS connections to nginx, each sending a
login request one byte a second for SECONDS seconds (its headers never finish), while the
drill's load runs beside them. nginx must hold them without tying up cartgate's workers.

  slow.py --port PORT [--connections 1000] [--seconds 30]

Prints one JSON line: connections opened, still open at the end, closed or answered by
nginx before the end (with the statuses it answered), and refused at connect.
"""
import argparse
import json
import resource
import socket
import time

REQUEST = (b"POST /wp-json/cocart/v2/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"User-Agent: cartgate-drill-slow\r\nContent-Type: application/json\r\n"
           b"X-Padding: " + b"a" * 200 + b"\r\n\r\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=30)
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.connections + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))
    socks, refused = [], 0
    for _ in range(a.connections):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", a.port))
        except OSError:
            refused += 1
            s.close()
            continue
        s.setblocking(False)
        socks.append(s)
    sent = [0] * len(socks)
    closed, answered = set(), {}
    end = time.time() + a.seconds
    while time.time() < end:
        tick = time.time()
        for i, s in enumerate(socks):
            if i in closed:
                continue
            try:
                data = s.recv(4096)
                # nginx answered (408, 400…) or closed the connection.
                if data:
                    status = data.split(b" ", 2)[1].decode(errors="replace") if data.startswith(b"HTTP/") else "?"
                    answered[status] = answered.get(status, 0) + 1
                closed.add(i)
                continue
            except BlockingIOError:
                pass
            except OSError:
                closed.add(i)
                continue
            try:
                s.send(REQUEST[sent[i] % len(REQUEST):][:1])
                sent[i] += 1
            except OSError:
                closed.add(i)
        time.sleep(max(0.0, 1.0 - (time.time() - tick)))
    print(json.dumps({"opened": len(socks), "open_at_end": len(socks) - len(closed),
                      "closed_early": len(closed), "answered": answered, "refused": refused}))
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
