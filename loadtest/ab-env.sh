#!/usr/bin/env bash
# A/B of one ringway env switch on the same binary, alternating, for quick decisions (the
# side-by-side comparisons with nginx are `loadtest/run`). Needs nginx and wrk (as loadtest/run).
#   loadtest/ab-env.sh VAR ROUNDS [wrk args...]   e.g. loadtest/ab-env.sh RINGWAY_READ_FIRST 5
# Runs ringway (1 worker, CPU 0) in front of an nginx backend (CPU 1) with VAR=0 then VAR=1 each
# round, wrk 64 connections for 5 s on CPU 1, and prints ringway's CPU time per request.
set -euo pipefail
VAR="${1:?variable name}"; ROUNDS="${2:-3}"; shift 2 || true
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RINGWAY_BIN:-$ROOT/target/release/ringway}"
source "$ROOT/loadtest/lib.sh"
DIR="$(mktemp -d)"; chmod 755 "$DIR"
trap 'kill $(cat "$DIR/be.pid" 2>/dev/null) 2>/dev/null; rm -rf "$DIR"' EXIT
lt_backend_conf "$DIR" 21090 > "$DIR/be.conf"
lt_ringway_conf 21091 21090 > "$DIR/rw.conf"
taskset -c 1 nginx -c "$DIR/be.conf" -p "$DIR" &
sleep 0.5
for _ in $(seq 1 "$ROUNDS"); do for v in 0 1; do
    env "$VAR=$v" taskset -c 0 "$BIN" -c "$DIR/rw.conf" --workers 1 2>/dev/null &
    P=$!; sleep 0.4
    wrk -t1 -c64 -d1s "$@" http://127.0.0.1:21091/small >/dev/null 2>&1
    t0=$(awk '{print $14+$15}' "/proc/$P/stat")
    out=$(taskset -c 1 wrk -t1 -c64 -d5s "$@" http://127.0.0.1:21091/small 2>&1)
    t1=$(awk '{print $14+$15}' "/proc/$P/stat")
    req=$(echo "$out" | awk '/requests in/{print $1}')
    tick=$(getconf CLK_TCK)
    echo "$VAR=$v requests=$req cpu_us_per_req=$(echo "($t1-$t0)*1000000/$tick/$req" | bc -l | cut -c1-6)"
    kill $P; wait $P 2>/dev/null || true
done; done
