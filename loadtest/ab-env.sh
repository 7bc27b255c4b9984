#!/usr/bin/env bash
# A/B of one ringway env switch on the same binary, alternating, for quick decisions (the
# side-by-side comparisons with nginx are `loadtest/run`). Needs nginx and wrk (as loadtest/run).
#   loadtest/ab-env.sh VAR ROUNDS [wrk args...]   e.g. loadtest/ab-env.sh RINGWAY_READ_FIRST 5
# Runs ringway (1 worker, CPU 0) in front of an nginx backend (CPU 1) with each value of VAR in
# turn each round (VALUES, default "0 1"), wrk (CONNS connections, default 64) for 5 s on CPU 1
# on URL_PATH (default /small; the backend also serves /4k, /16k, /32k, /64k, /256k, /1m and
# /16m files), and prints the requests, ringway's CPU time and the machine's TCP segments per
# request, and how busy CPU 1 (wrk's and the backend's core) was, then the medians for each
# value. E.g. the splice threshold:
#   VALUES="65536 32768" URL_PATH=/64k CONNS=16 loadtest/ab-env.sh RINGWAY_SPLICE_MIN 6
# With VAR=RINGWAY_BIN the VALUES are ringway binaries, to compare two builds:
#   VALUES="/tmp/ringway-old target/release/ringway" URL_PATH=/64k CONNS=16 loadtest/ab-env.sh RINGWAY_BIN 8
# SENDFILE=off serves the backend's files with read/write as the harness's backend does (default
# on). LO_MTU=1500 sets loopback's MTU for the run and restores it on exit (root), as in
# loadtest/run: loopback's default 64 KB segments favour splice (see loadtest/README.md).
set -euo pipefail
VAR="${1:?variable name}"; ROUNDS="${2:-3}"; shift 2 || true
VALUES="${VALUES:-0 1}"; URL_PATH="${URL_PATH:-/small}"; CONNS="${CONNS:-64}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RINGWAY_BIN:-$ROOT/target/release/ringway}"
source "$ROOT/loadtest/lib.sh"
DIR="$(mktemp -d)"; chmod 755 "$DIR"
MTU_BEFORE=""
cleanup() {
    kill $(cat "$DIR/be.pid" 2>/dev/null) 2>/dev/null || true
    if [[ -n $MTU_BEFORE ]]; then ip link set lo mtu "$MTU_BEFORE"; fi
    rm -rf "$DIR"
}
trap cleanup EXIT
if [[ -n "${LO_MTU:-}" ]]; then
    MTU_BEFORE=$(cat /sys/class/net/lo/mtu)
    ip link set lo mtu "$LO_MTU"
fi
lt_backend_files "$DIR"
lt_backend_conf "$DIR" 21090 > "$DIR/be.conf"
lt_ringway_conf 21091 21090 > "$DIR/rw.conf"
taskset -c 1 nginx -c "$DIR/be.conf" -p "$DIR" &
sleep 0.5
URL="http://127.0.0.1:21091$URL_PATH"
for _ in $(seq 1 "$ROUNDS"); do for v in $VALUES; do
    bin="$BIN"; [[ $VAR == RINGWAY_BIN ]] && bin="$v"
    env "$VAR=$v" taskset -c 0 "$bin" -c "$DIR/rw.conf" --workers 1 2>/dev/null &
    P=$!; sleep 0.4
    echo "$VAR=$v $(lt_measure "$P" "$CONNS" "$URL" "$@")" | tee -a "$DIR/runs"
    kill $P; wait $P 2>/dev/null || true
done; done
for v in $VALUES; do
    m=$(grep "^$VAR=$v " "$DIR/runs" | sed 's/.*cpu_us_per_req=//; s/ .*//' | lt_median)
    g=$(grep "^$VAR=$v " "$DIR/runs" | sed 's/.*segs_per_req=//; s/ .*//' | lt_median)
    l=$(grep "^$VAR=$v " "$DIR/runs" | sed 's/.*load_cpu_pct=//; s/ .*//' | lt_median)
    r=$(grep "^$VAR=$v " "$DIR/runs" | sed 's/.*requests=//; s/ .*//' | lt_median)
    echo "median $VAR=$v requests=$r cpu_us_per_req=$m segs_per_req=$g load_cpu_pct=$l"
done
