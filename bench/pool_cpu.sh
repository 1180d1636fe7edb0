#!/usr/bin/env bash
# bench/run.sh, and the CPU time the worker pool used during it, per request that reached
# cartgate (the cart, cart_tcp and validate runs): utime + stime of every
# `BUILD/cartgate serve` process (all threads), from /proc/PID/stat, before and after.
# Less sensitive to what else the machine runs than req/s (docs/benchmarks.md, "Plugins").
#
#   bash bench/pool_cpu.sh -d 5 -r 2      # arguments go to bench/run.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BUILD_DIR:-$ROOT/build}/cartgate
pids() { ps -eo pid=,args= | awk -v bin="$BIN" '$2 == bin && $3 == "serve" {print $1}'; }
ticks() {
  local t=0 u s
  for p in $(pids); do
    read -r u s < <(awk '{print $14, $15}' "/proc/$p/stat" 2>/dev/null || echo "0 0")
    t=$((t + u + s))
  done
  echo "$t"
}
DURATION=10
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do [[ ${args[i]} == -d ]] && DURATION=${args[i + 1]}; done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
t0=$(ticks)
bash "$ROOT/bench/run.sh" "$@" | tee "$out"
t1=$(ticks)
hz=$(getconf CLK_TCK)
requests=$(awk -v d="$DURATION" '($1 == "cart" || $1 == "cart_tcp" || $1 == "validate") && $3 == "req/s" {s += $2 * d} END {printf "%d", s}' "$out")
((requests > 0)) || { echo "pool_cpu: no cartgate requests counted" >&2; exit 1; }
echo "pool CPU: $(( (t1 - t0) * 1000000 / hz / requests )) us per cartgate request ($((t1 - t0)) ticks, $requests requests)"
