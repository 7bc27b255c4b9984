#!/usr/bin/env bash
# Fixed-rate latency, more rounds than loadtest/run can afford: ringway, nginx and direct (no
# proxy) take turns, each round, under `oha -q RATE` (latency corrected for coordinated omission).
#   loadtest/ab-lat.sh ROUNDS          e.g. RATE=26700 loadtest/ab-lat.sh 8
# Same layout as loadtest/run: the proxy (one worker) on CPU 0, the nginx backend and oha on
# CPU 1, 64 connections of GET /small for SECS (5) seconds after a 1 s wrk warm-up. Prints, per
# run, requests, the proxy's CPU µs per request and p50/p99/p99.9, then each target's median and
# range of p99. Needs nginx, wrk and oha (loadtest/run installs the first two; LAT_INSTALL=1
# loadtest/run installs oha).
set -euo pipefail
ROUNDS="${1:?rounds}"
RATE="${RATE:-21000}"; SECS="${SECS:-5}"; TARGETS="${TARGETS:-ringway nginx direct}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RINGWAY_BIN:-$ROOT/target/release/ringway}"
OHA="${OHA_BIN:-$(command -v oha || echo "$HOME/.cache/ringway-loadtest/bin/oha")}"
[[ -x "$OHA" ]] || { echo "needs oha (LAT_INSTALL=1 loadtest/run installs it)" >&2; exit 1; }
source "$ROOT/loadtest/lib.sh"
lt_need nginx wrk
lt_tmpdir
lt_backend_conf "$DIR" 21490 > "$DIR/be.conf"
lt_ringway_conf 21491 21490 > "$DIR/rw.conf"
lt_nginx_proxy_conf "$DIR" 21491 21490 > "$DIR/ng.conf"
taskset -c 1 nginx -c "$DIR/be.conf" -p "$DIR" & PIDS+=($!)
sleep 0.5
tick=$(getconf CLK_TCK)
for _ in $(seq 1 "$ROUNDS"); do for t in $TARGETS; do
    port=21491; P=""
    case $t in
        ringway) taskset -c 0 "$BIN" -c "$DIR/rw.conf" --workers 1 2>/dev/null & P=$! ;;
        nginx) taskset -c 0 nginx -c "$DIR/ng.conf" -p "$DIR" 2>/dev/null & P=$! ;;
        direct) port=21490 ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
    sleep 0.5
    url="http://127.0.0.1:$port/small"
    taskset -c 1 wrk -t1 -c64 -d1s "$url" >/dev/null 2>&1
    c0=0; [[ -n $P ]] && c0=$(awk '{print $14+$15}' "/proc/$P/stat")
    out=$(taskset -c 1 "$OHA" -z "${SECS}s" -c 64 -q "$RATE" --latency-correction --no-tui \
        --output-format json "$url" 2>/dev/null)
    c1=0; [[ -n $P ]] && c1=$(awk '{print $14+$15}' "/proc/$P/stat")
    echo "$out" | python3 -c '
import json, sys
t, c0, c1, tick = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
j = json.loads(sys.stdin.read())
n = sum(j["statusCodeDistribution"].values())
lp = j["latencyPercentiles"]
cpu = f"{(c1 - c0) * 1e6 / tick / n:.2f}" if c1 > c0 else "-"
print(f"{t} requests={n} cpu_us_per_req={cpu} p50_ms={lp['"'p50'"'] * 1e3:.3f} "
      f"p99_ms={lp['"'p99'"'] * 1e3:.3f} p999_ms={lp['"'p99.9'"'] * 1e3:.3f}")' "$t" "$c0" "$c1" "$tick" \
        | tee -a "$DIR/runs"
    if [[ -n $P ]]; then kill "$P"; wait "$P" 2>/dev/null || true; fi
    sleep 0.3
done; done
for t in $TARGETS; do
    p99=$(grep "^$t " "$DIR/runs" | sed 's/.*p99_ms=//; s/ .*//')
    echo "median $t p99_ms=$(echo "$p99" | lt_median) range=$(echo "$p99" | sort -n | head -1)-$(echo "$p99" | sort -n | tail -1)" \
        "cpu_us_per_req=$(grep "^$t " "$DIR/runs" | sed 's/.*cpu_us_per_req=//; s/ .*//' | grep -v '^-' | lt_median)"
done
