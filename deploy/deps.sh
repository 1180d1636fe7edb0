#!/usr/bin/env bash
# Installs every Debian package cartgate needs to build, run and test.
# Idempotent: when everything is present it does nothing and touches no network.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates curl openssl
  libjsoncpp-dev libssl-dev libpqxx-dev libpq-dev libargon2-dev
  libcrypt-dev liboath-dev libcurl4-openssl-dev libqrencode-dev libmaxminddb-dev
  libcli11-dev libtomlplusplus-dev libhowardhinnant-date-dev tzdata libmariadb-dev
  libgtest-dev libgmock-dev
  postgresql postgresql-client nginx-light tor-geoipdb
  oathtool libfcgi-bin python3 python3-jwt python3-cryptography python3-aiosmtpd python3-passlib python3-bcrypt wrk
  # The storefront (contract §8): WordPress from Debian on PHP-FPM and MariaDB.
  php-fpm php php-mysql mariadb-server wordpress wordpress-theme-twentytwentythree
  # The token check inside nginx (nginx/module/, docs/nginx-module.md): nginx's source
  # as Debian builds it, and the JSON parser the module links.
  nginx-dev libjansson-dev
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

apt_install() {
  # A fresh machine has no package lists yet; update once, then install.
  if ! $SUDO apt-get install -y --no-install-recommends "$@" >>/tmp/cartgate-apt.log 2>&1; then
    $SUDO apt-get update >>/tmp/cartgate-apt.log 2>&1
    $SUDO apt-get install -y --no-install-recommends "$@" >>/tmp/cartgate-apt.log 2>&1 ||
      { tail -n 30 /tmp/cartgate-apt.log >&2; exit 1; }
  fi
}

: >/tmp/cartgate-apt.log
# The wordpress package depends on "libapache2-mod-php | php", and php on "an Apache
# module | php-fpm | php-cgi"; in a single transaction apt picks the first of each, which
# pulls in Apache. With php-fpm installed first, the second step finds it satisfied.
rest=()
for p in "${missing[@]}"; do
  if [[ $p == php-fpm ]]; then apt_install php-fpm; else rest+=("$p"); fi
done
((${#rest[@]} == 0)) || apt_install "${rest[@]}"
# Debian starts the packaged services on install; cartgate runs its own private
# instances on other ports and sockets, so the system ones are stopped (nginx and
# PostgreSQL would hold 80 and 5432).
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  $SUDO systemctl disable --now nginx postgresql mariadb php8.2-fpm >/dev/null 2>&1 || true
fi
