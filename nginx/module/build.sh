#!/usr/bin/env bash
# Builds ngx_http_cartgate_module.so against the nginx that Debian's nginx-dev ships
# the source of (/usr/share/nginx/src), with the same configure flags, so the module's
# signature matches the installed nginx and `load_module` accepts it. CMake runs this
# (target nginx_module) when nginx-dev is installed.
#
#   bash nginx/module/build.sh OUT_DIR      # → OUT_DIR/ngx_http_cartgate_module.so
set -euo pipefail
out=$(mkdir -p "$1" && cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
src=/usr/share/nginx/src
[[ -x $src/configure && -f $src/conf_flags ]] || { echo "nginx-dev is not installed ($src)" >&2; exit 1; }
# shellcheck source=/dev/null
source "$src/conf_flags"
work=$out/nginx-src
stamp=$work/.configured
# configure writes into its tree: a copy of the source, configured once.
if [[ ! -f $stamp || $here/config -nt $stamp ]]; then
  rm -rf "$work"
  cp -a "$src" "$work"
  (cd "$work" && ./configure "${NGX_CONF_FLAGS[@]}" --with-cc-opt="-O2 -fPIC -Wall -Wextra -Wno-unused-parameter" \
      --with-ld-opt="-Wl,-z,relro -Wl,-z,now -fPIC" --add-dynamic-module="$here") >"$out/configure.log" 2>&1 ||
    { tail -n 30 "$out/configure.log" >&2; exit 1; }
  touch "$stamp"
fi
make -C "$work" -f objs/Makefile modules >"$out/make.log" 2>&1 || { tail -n 40 "$out/make.log" >&2; exit 1; }
install -m 644 "$work/objs/ngx_http_cartgate_module.so" "$out/ngx_http_cartgate_module.so"
