#!/usr/bin/env bash
# CPU per cache HIT of a gzip-compressed 100 KiB text response: a ringway that compresses every
# HIT (BEFORE_BIN, built from a commit before the cache's compressed variants) against one that
# sends the stored variant (RINGWAY_BIN, default target/release/ringway).
#   BEFORE_BIN=/tmp/ringway-before loadtest/cache-compress-cost.sh [ROUNDS]
#   LEVEL=6 CONNS=16; CALLGRIND=1 also counts user-space instructions per HIT under callgrind.
# Layout as loadtest/compress-cost.sh: the proxy (one worker, `proxy_cache` + `gzip on;
# gzip_comp_level LEVEL; gzip_types text/plain;`) on CPU 0, the nginx backend and wrk on CPU 1,
# the same seeded 100 KiB page. Two warm-up requests (the MISS, then the first HIT, which stores
# the variant where there are variants), then wrk with `Accept-Encoding: gzip` for 5 s after a
# 1 s warm-up: every request is a HIT. An identity HIT (no Accept-Encoding) is measured too.
set -euo pipefail
ROUNDS="${1:-3}"; LEVEL="${LEVEL:-6}"; CONNS="${CONNS:-16}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AFTER="${RINGWAY_BIN:-$ROOT/target/release/ringway}"
BEFORE="${BEFORE_BIN:?BEFORE_BIN: a ringway built without compressed variants}"
source "$ROOT/loadtest/lib.sh"
lt_need nginx wrk curl python3 bc
lt_tmpdir
lt_text_page "$DIR/page.txt"
lt_backend_conf "$DIR" 21290 > "$DIR/be.conf"
taskset -c 1 nginx -c "$DIR/be.conf" -p "$DIR" & PIDS+=($!)
sleep 0.5
URL=http://127.0.0.1:21291/page.txt
GZ="Accept-Encoding: gzip"
conf() { # CACHE_DIR
    cat <<CONF
http { upstream be { server 127.0.0.1:21290; keepalive 1024; }
  proxy_cache_path $1 levels=1:2 keys_zone=z:10m;
  gzip on; gzip_comp_level $LEVEL; gzip_types text/plain;
  server { listen 127.0.0.1:21291; keepalive_requests 1000000;
    location / { proxy_pass http://be; proxy_cache z; proxy_cache_valid 200 1h; } } }
CONF
}
# start BIN [valgrind args…]: the proxy on CPU 0 with an empty cache, warmed; sets P.
start() {
    local bin=$1; shift
    rm -rf "$DIR/cache"; conf "$DIR/cache" > "$DIR/rw.conf"
    taskset -c 0 "$@" "$bin" -c "$DIR/rw.conf" --workers 1 2>"$DIR/rw.err" & P=$!
    for _ in $(seq 1 100); do curl -fso /dev/null "$URL" 2>/dev/null && break; sleep 0.2; done
    curl -fso /dev/null -H "$GZ" "$URL"; curl -fso /dev/null -H "$GZ" "$URL"
}
stop() { kill "$P"; wait "$P" 2>/dev/null || true; }
run() { # BIN HEADER
    start "$1"
    echo "$(lt_measure "$P" "$CONNS" "$URL" -H "$2")" \
        "bytes=$(curl -s -H "$2" "$URL" | wc -c)" \
        "status=$(curl -s -o /dev/null -D - -H "$2" "$URL" | tr -d '\r' | awk '/^[Cc]ontent-[Ll]ength|^[Tt]ransfer-[Ee]ncoding/ {printf "%s%s", $1, $2}')"
    stop
}
: > "$DIR/runs"
for _ in $(seq 1 "$ROUNDS"); do
    echo "before gzip $(run "$BEFORE" "$GZ")" | tee -a "$DIR/runs"
    echo "after gzip $(run "$AFTER" "$GZ")" | tee -a "$DIR/runs"
    echo "after identity $(run "$AFTER" "Accept-Encoding: identity")" | tee -a "$DIR/runs"
done
med() { grep "^$1 " "$DIR/runs" | sed "s/.*cpu_us_per_req=//; s/ .*//" | lt_median; }
b=$(med "before gzip"); a=$(med "after gzip")
echo "median CPU per gzip level $LEVEL HIT: before (compressed per HIT) $b µs, after (stored variant) $a µs," \
    "ratio $(echo "$a/$b" | bc -l | cut -c1-5); identity HIT $(med "after identity") µs"
[[ "${CALLGRIND:-0}" == 1 ]] || exit 0
command -v valgrind >/dev/null || { echo "CALLGRIND=1 needs valgrind" >&2; exit 1; }
for which in before after; do
    bin=$BEFORE; [[ $which == after ]] && bin=$AFTER
    start "$bin" valgrind --tool=callgrind "--callgrind-out-file=$DIR/cg-$which.out"
    taskset -c 1 wrk -t1 -c4 -d1s -H "$GZ" "$URL" > /dev/null
    callgrind_control -z "$P" > /dev/null 2>&1
    out=$(taskset -c 1 wrk -t1 -c4 -d3s -H "$GZ" "$URL")
    callgrind_control -d "$P" > /dev/null 2>&1
    kill -KILL "$P"; wait "$P" 2>/dev/null || true
    req=$(echo "$out" | awk '/requests in/ { print $1 }')
    dump=$(ls -v "$DIR"/cg-$which.out* | tail -1)
    ir=$(awk '/^summary:|^totals:/ { print $2; exit }' "$dump")
    echo "callgrind $which: $req HITs, $(echo "$ir/$req" | bc) user-space instructions per HIT"
done
