#!/usr/bin/env bash
# Installs every Debian package cartgate needs to build, run and test.
# Idempotent: when everything is present it does nothing and touches no network.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates curl openssl
  libjsoncpp-dev libssl-dev libpqxx-dev libpq-dev libargon2-dev
  libcrypt-dev liboath-dev libcurl4-openssl-dev libqrencode-dev libmaxminddb-dev
  libcli11-dev libtomlplusplus-dev libhowardhinnant-date-dev tzdata
  libgtest-dev libgmock-dev
  postgresql postgresql-client nginx-light tor-geoipdb
  oathtool libfcgi-bin python3 python3-jwt python3-cryptography python3-aiosmtpd python3-passlib python3-bcrypt wrk
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "cartgate: installing ${#missing[@]} package(s): ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; update once, then install.
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/cartgate-apt.log 2>&1; then
  $SUDO apt-get update >>/tmp/cartgate-apt.log 2>&1
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >>/tmp/cartgate-apt.log 2>&1 ||
    { tail -n 30 /tmp/cartgate-apt.log >&2; exit 1; }
fi
# Debian starts the packaged services on install; cartgate runs its own private
# instances on other ports, so the system ones are stopped to free 80/5432.
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  $SUDO systemctl disable --now nginx postgresql >/dev/null 2>&1 || true
fi
