#!/usr/bin/env bash
# A/B of ringway `events { … }` settings (the io_uring ring setup, say), alternating, with nginx
# in the same rounds for reference. Not the side-by-side report (that is loadtest/run).
#   loadtest/ab-events.sh ROUNDS VARIANT...    a VARIANT is the text of an events block
#   e.g. loadtest/ab-events.sh 4 "" "io_uring_sqpoll on;" "io_uring_sqpoll on; io_uring_sqpoll_idle 10ms;"
# ringway (1 worker) and nginx (1 worker) take turns on CPU 0 in front of an nginx backend on
# CPU 1; wrk (CPU 1) runs 64 keep-alive connections of small GETs for 5 s after a 1 s warm-up.
# Prints, per run, req/s, p99, the proxy's CPU µs per request (all its threads, io_uring's
# kernel threads included) and how many iou-sqp threads it had; then the medians.
set -euo pipefail
ROUNDS="${1:?rounds}"; shift
(($# >= 1)) || { echo "give at least one events-block variant (\"\" for the defaults)" >&2; exit 2; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RINGWAY_BIN:-$ROOT/target/release/ringway}"
source "$ROOT/loadtest/lib.sh"
lt_need nginx wrk
lt_tmpdir
lt_backend_conf "$DIR" 21390 > "$DIR/be.conf"
names=()
for i in $(seq 1 $#); do
    lt_ringway_conf 21391 21390 "${!i}" > "$DIR/v$i.conf"
    "$BIN" -t -c "$DIR/v$i.conf" 2>/dev/null || { echo "variant $i does not load: ${!i}" >&2; exit 2; }
    names+=("v$i")
done
names+=(nginx)
lt_nginx_proxy_conf "$DIR" 21391 21390 > "$DIR/nginx.conf"
taskset -c 1 nginx -c "$DIR/be.conf" -p "$DIR" & PIDS+=($!)
sleep 0.5
tick=$(getconf CLK_TCK)
for i in $(seq 1 $#); do echo "v$i: events { ${!i} }"; done
for r in $(seq 1 "$ROUNDS"); do
    for v in "${names[@]}"; do
        if [[ $v == nginx ]]; then taskset -c 0 nginx -c "$DIR/nginx.conf" -p "$DIR" & P=$!
        else taskset -c 0 "$BIN" -c "$DIR/$v.conf" --workers 1 2>"$DIR/$v.err" & P=$!; fi
        sleep 0.6
        taskset -c 1 wrk -t1 -c64 -d1s http://127.0.0.1:21391/small >/dev/null 2>&1
        t0=$(awk '{print $14 + $15}' "/proc/$P/stat")
        out=$(taskset -c 1 wrk -t1 -c64 -d5s --latency http://127.0.0.1:21391/small 2>&1)
        t1=$(awk '{print $14 + $15}' "/proc/$P/stat")
        sq=$(cat /proc/$P/task/*/comm 2>/dev/null | grep -c '^iou-sqp' || true)
        kill "$P"; wait "$P" 2>/dev/null || true
        req=$(echo "$out" | awk '/requests in/{print $1}')
        echo "$r $v rps=$(echo "$out" | awk '/Requests\/sec/{print $2}') p99=$(echo "$out" | awk '$1=="99%"{print $2}')" \
            "cpu_us_per_req=$(echo "($t1 - $t0) * 1000000 / $tick / $req" | bc -l | cut -c1-6) sqpoll_threads=$sq" | tee -a "$DIR/runs"
    done
done
field() { awk -v v="$1" -v k="$2" '$2 == v { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) { x = kv[2]
    # wrk prints latency in us, ms or s
    if (x ~ /us$/) { sub(/us$/, "", x); x /= 1000 } else if (x ~ /ms$/) { sub(/ms$/, "", x) } else if (x ~ /s$/) { sub(/s$/, "", x); x *= 1000 }
    print x } } }' "$DIR/runs"; }
echo "medians over $ROUNDS rounds:"
for v in "${names[@]}"; do
    echo "$v rps=$(field "$v" rps | lt_median) p99_ms=$(field "$v" p99 | lt_median) cpu_us_per_req=$(field "$v" cpu_us_per_req | lt_median)"
done
