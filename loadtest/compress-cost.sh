#!/usr/bin/env bash
# CPU per request of gzip-compressed 100 KiB text responses, ringway against nginx at the same
# level (issue 21's target: ringway ≤ 0.8× nginx), and the compressed sizes of each.
#   loadtest/compress-cost.sh [ROUNDS]        LEVELS="1 6" CONNS=16 by default
# ringway and the nginx proxy (one worker each, CPU 0, `gzip on; gzip_comp_level L;
# gzip_types text/plain;`) take turns in front of one nginx backend (CPU 1) serving /page.txt:
# 100 KiB of seeded pseudo-random words (text/plain, about 3:1 under gzip). wrk (CPU 1) sends
# `Accept-Encoding: gzip` for 5 s per run after a 1 s warm-up. Prints each run (requests, the
# proxy's CPU µs per request), then per level the medians, the ratio and both proxies' body
# sizes; ringway's brotli at its default level 6 and zstd at levels 1 (zstd-nginx-module's
# default) and 3 are measured too (this nginx has neither module).
set -euo pipefail
ROUNDS="${1:-3}"; LEVELS="${LEVELS:-1 6}"; CONNS="${CONNS:-16}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RINGWAY_BIN:-$ROOT/target/release/ringway}"
source "$ROOT/loadtest/lib.sh"
lt_need nginx wrk curl python3 bc
lt_tmpdir
lt_text_page "$DIR/page.txt"
lt_backend_conf "$DIR" 21190 > "$DIR/be.conf"
taskset -c 1 nginx -c "$DIR/be.conf" -p "$DIR" & PIDS+=($!)
sleep 0.5
H="Accept-Encoding: gzip"
ringway_conf() { # LEVEL CODING
    cat <<CONF
http { upstream be { server 127.0.0.1:21190; keepalive 1024; }
  $1 on; $1_comp_level $2; $1_types text/plain;
  server { listen 127.0.0.1:21191; keepalive_requests 1000000;
    location / { proxy_pass http://be; } } }
CONF
}
nginx_conf() { # LEVEL
    lt_nginx_proxy_conf "$DIR" 21192 21190 \
        | sed "s|http { |http { gzip on; gzip_comp_level $1; gzip_types text/plain; |"
}
run_ringway() { # CODING LEVEL HEADER
    ringway_conf "$1" "$2" > "$DIR/rw.conf"
    taskset -c 0 "$BIN" -c "$DIR/rw.conf" --workers 1 2>"$DIR/rw.err" & local p=$!
    sleep 0.4
    echo "$(lt_measure "$p" "$CONNS" http://127.0.0.1:21191/page.txt -H "$3")" \
        "bytes=$(curl -s -H "$3" http://127.0.0.1:21191/page.txt | wc -c)"
    kill "$p"; wait "$p" 2>/dev/null || true
}
run_nginx() { # LEVEL
    nginx_conf "$1" > "$DIR/ng.conf"
    taskset -c 0 nginx -c "$DIR/ng.conf" -p "$DIR" & local p=$!
    sleep 0.4
    echo "$(lt_measure "$p" "$CONNS" http://127.0.0.1:21192/page.txt -H "$H")" \
        "bytes=$(curl -s -H "$H" http://127.0.0.1:21192/page.txt | wc -c)"
    kill "$p"; wait "$p" 2>/dev/null || true
}
: > "$DIR/runs"
for _ in $(seq 1 "$ROUNDS"); do
    for l in $LEVELS; do
        echo "ringway gzip=$l $(run_ringway gzip "$l" "$H")" | tee -a "$DIR/runs"
        echo "nginx gzip=$l $(run_nginx "$l")" | tee -a "$DIR/runs"
    done
    echo "ringway br=6 $(run_ringway brotli 6 "Accept-Encoding: br")" | tee -a "$DIR/runs"
    for l in 1 3; do
        echo "ringway zstd=$l $(run_ringway zstd "$l" "Accept-Encoding: zstd")" | tee -a "$DIR/runs"
    done
done
med() { grep "^$1 " "$DIR/runs" | sed "s/.*$2=//; s/ .*//" | lt_median; }
echo "identity bytes=$(wc -c < "$DIR/page.txt")"
for l in $LEVELS; do
    r=$(med "ringway gzip=$l" cpu_us_per_req); n=$(med "nginx gzip=$l" cpu_us_per_req)
    echo "median gzip level $l: ringway ${r} µs/req (bytes $(med "ringway gzip=$l" bytes))," \
        "nginx ${n} µs/req (bytes $(med "nginx gzip=$l" bytes)), ratio $(echo "$r/$n" | bc -l | cut -c1-5)"
done
echo "median brotli level 6: ringway $(med "ringway br=6" cpu_us_per_req) µs/req (bytes $(med "ringway br=6" bytes))"
for l in 1 3; do
    echo "median zstd level $l: ringway $(med "ringway zstd=$l" cpu_us_per_req) µs/req (bytes $(med "ringway zstd=$l" bytes))"
done
