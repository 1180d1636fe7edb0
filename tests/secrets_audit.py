#!/usr/bin/env python3
"""Looks for secrets in files where none may be (tests/secrets_audit.sh gathers both).

    secrets_audit.py SECRETS_TSV CORPUS_FILE...
    secrets_audit.py --dumpable PID...     # prints "PID dumpable" or "PID not-dumpable"

SECRETS_TSV holds "KIND<TAB>VALUE" lines: what the integration tests used
(tests/integration/support/secrets.h) and the test stack's own keys and passwords.
Every hit is printed as "FILE: KIND found: …context…" (the value itself cut short, so
this output is no new leak) and the exit status is 1; 0 when nothing was found.

What is matched, and how:

* Long secrets (8 characters or more, with a digit or at least 16 characters long):
  tokens, refresh tokens, TOTP keys, passwords, 8-digit email and backup codes. Anywhere,
  as plain substrings (grep -F, so thousands of them cost one pass over each file); a
  secret made only of digits must not be part of a longer number (a code "12345678" is
  not found inside a timestamp 1712345678). Values with no digit and under 16
  characters ("password", "wrong-pass") are left out: they are words that appear in any
  log, and no test secret looks like that.
* Short secrets (under 8 characters, with a digit): 6-digit TOTP codes, short test
  passwords. Six digits turn up by chance in any big log (durations, ports, ids), so they
  count only where they mean something: after a word naming what they are (code, otp,
  totp, backup, 2fa, password, pass, pwd, secret, token) in the same line, at most 40
  characters before (48 with the value), with nothing alphanumeric glued to either side. A short code
  written somewhere with no such word nearby is missed; every place cartgate writes a
  code would be next to its name (an audit detail "code", a JSON field "2fa_code").
"""
import re
import subprocess
import sys

LONG = 8
CONTEXT_WORDS = r"(?:code|otp|totp|backup|2fa|password|passwd|pass|pwd|secret|token)"


def load(path):
    secrets = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if "\t" not in line:
                continue
            kind, value = line.split("\t", 1)
            if value and value not in secrets:
                secrets[value] = kind
    return secrets


def is_long(value):
    return len(value) >= LONG and (any(c.isdigit() for c in value) or len(value) >= 16)


def is_short(value):
    return 4 <= len(value) < LONG and any(c.isdigit() for c in value)


def shorten(value):
    return value[:4] + "…" if len(value) > 4 else value


def context(text, start, end):
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    if line_end < 0:
        line_end = len(text)
    before = text[max(line_start, start - 60):start]
    after = text[end:min(line_end, end + 60)]
    return (before + "<SECRET>" + after).replace("\t", " ")


def dumpable(pids):
    """Whether each process is dumpable, as tests/integration/server_hardening_test.cc
    tells: without CAP_SYS_PTRACE in the effective set, kcmp() (the kernel's ptrace
    "read" check, with real credentials) passes on a dumpable process of our own user and
    fails with EPERM on one that called prctl(PR_SET_DUMPABLE, 0)."""
    import ctypes
    import os
    import platform
    numbers = {"x86_64": (125, 126, 312), "aarch64": (90, 91, 272)}
    capget, capset, kcmp = numbers[platform.machine()]
    libc = ctypes.CDLL(None, use_errno=True)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (Data * 2)()
    if libc.syscall(capget, ctypes.byref(header), data) != 0:
        return 2
    data[0].effective &= ~(1 << 19)  # CAP_SYS_PTRACE
    if libc.syscall(capset, ctypes.byref(header), data) != 0:
        return 2
    for pid in pids:
        r = libc.syscall(kcmp, os.getpid(), int(pid), 1, 0, 0)  # KCMP_VM
        errno = ctypes.get_errno()
        print(pid, "dumpable" if r >= 0 else "not-dumpable" if errno == 1 else f"error {errno}")
    return 0


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--dumpable":
        return dumpable(sys.argv[2:])
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    secrets = load(sys.argv[1])
    files = sys.argv[2:]
    long_secrets = sorted(v for v in secrets if is_long(v))
    short_secrets = {v for v in secrets if is_short(v)}
    hits = 0

    # Long secrets: grep -F with every one of them at once, printing which matched where.
    if long_secrets:
        patterns = "\n".join(long_secrets) + "\n"
        r = subprocess.run(["grep", "-a", "-o", "-F", "-H", "-b", "-f", "/dev/stdin", "--"] + files,
                           input=patterns.encode(), stdout=subprocess.PIPE)
        if r.returncode not in (0, 1):
            print("secrets_audit: grep failed", file=sys.stderr)
            return 2
        found = {}
        for line in r.stdout.decode("utf-8", "replace").splitlines():
            # FILE:OFFSET:MATCH
            m = re.match(r"^(.*):([0-9]+):(.*)$", line)
            if m:
                found.setdefault(m.group(1), []).append((int(m.group(2)), m.group(3)))
        for path, matches in found.items():
            with open(path, "rb") as f:
                raw = f.read()
            text = raw.decode("latin-1")  # byte offsets == character offsets
            for offset, value in matches:
                if value not in secrets:
                    continue
                if value.isdigit():
                    before = text[offset - 1:offset] if offset else ""
                    after = text[offset + len(value):offset + len(value) + 1]
                    if before.isdigit() or after.isdigit():
                        continue
                hits += 1
                print(f"{path}: {secrets[value]} {shorten(value)} found: "
                      f"{context(text, offset, offset + len(value))}")

    # Short secrets: only after a word that names them, on the same line.
    if short_secrets:
        word = re.compile(r"(?i)" + CONTEXT_WORDS)
        candidate = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z_-]{4,7}(?![0-9A-Za-z])")
        for path in files:
            with open(path, "rb") as f:
                text = f.read().decode("latin-1")
            seen = set()
            for w in word.finditer(text):
                end = text.find("\n", w.end(), w.end() + 48)
                end = w.end() + 48 if end < 0 else end
                for m in candidate.finditer(text, w.end(), min(end, len(text))):
                    if m.group(0) in short_secrets and m.start() not in seen:
                        seen.add(m.start())
                        hits += 1
                        print(f"{path}: {secrets[m.group(0)]} {shorten(m.group(0))} found: "
                              f"{context(text, m.start(), m.end())}")

    print(f"secrets_audit: {len(long_secrets)} long and {len(short_secrets)} short secrets, "
          f"{len(files)} files, {hits} hits", file=sys.stderr)
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
