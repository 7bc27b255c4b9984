#!/usr/bin/env bash
# A metrics scrape's cost with 100 upstream servers: the time one scrape takes over HTTP, and
# requests/s and p99 of a wrk run with and without scrapes every 200 ms (75x Prometheus's usual
# 15 s). Usage: loadtest/scrape-cost.sh [WORKERS] (needs wrk, curl; builds nothing: run
# `cargo build --release` first).
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${1:-2}
PORT=${PORT:-18380}
DIR=$(mktemp -d)
trap 'kill "$RW" 2>/dev/null; rm -rf "$DIR"' EXIT
{
    echo "events {} http { upstream pool {"
    for i in $(seq 1 100); do echo "  server 127.0.0.2:$((20000 + i));"; done
    echo "} server { listen 127.0.0.1:$PORT;"
    echo "  location = /metrics { ringway_metrics; }"
    echo "  location /app/ { proxy_pass http://pool; }"
    echo "  location / { return 200 ok; } } }"
} > "$DIR/ringway.conf"
RINGWAY_LOG=warn target/release/ringway -c "$DIR/ringway.conf" --workers "$WORKERS" &
RW=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
curl -s "http://127.0.0.1:$PORT/metrics" > "$DIR/metrics.txt"
echo "exposition: $(wc -c < "$DIR/metrics.txt") bytes, $(grep -vc '^#' "$DIR/metrics.txt") samples"
for _ in $(seq 30); do
    curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT/metrics"
done | sort -n | awk '{a[NR]=$1} END {printf "one scrape over HTTP: median %.2f ms, max %.2f ms (30 runs)\n", a[int((NR+1)/2)]*1000, a[NR]*1000}'
run() {
    wrk -t1 -c32 -d6s --latency "http://127.0.0.1:$PORT/" |
        awk -v what="$1" '/Requests\/sec/ {r=$2} /^ +99%/ {p=$2} END {printf "%-22s %s req/s, p99 %s\n", what, r, p}'
}
for round in 1 2; do
    run "no scrapes (round $round)"
    (while :; do curl -s -o /dev/null "http://127.0.0.1:$PORT/metrics"; sleep 0.2; done) &
    SCRAPER=$!
    run "scrapes every 200 ms"
    kill "$SCRAPER"; wait "$SCRAPER" 2>/dev/null || true
done
