#!/usr/bin/env bash
# How requests/s scale with shards on a many-core host: small keep-alive GETs through ringway
# with N shards and through nginx with N workers, for each N in SHARDS, alternating, ROUNDS
# rounds. The proxy is pinned to cores 0..N-1; the backend (nginx) and wrk share the cores left,
# so keep at least a third of the machine for them or the load, not the proxy, sets the pace.
#   loadtest/scale.sh                      defaults: SHARDS="1 2 4 8 14" (those that leave two
#                                          cores or more), ROUNDS=3, DURATION=5, CONNS=64 per shard
#   SHARDS="1 2 4" ROUNDS=5 loadtest/scale.sh
# Per N and proxy it prints the median requests/s, that over N times the 1-shard figure (linear
# scaling is 1.00), CPU µs per request (utime+stime of the proxy's processes), how busy the
# load cores were, and "capacity scaling": CPU per request at 1 over CPU per request at N, which
# is what the proxy would scale to if the load were not the limit (1.00 = no shard slows another).
# When the load cores are ~100% busy, requests/s scaling says more about the load generator.
# Builds ringway in release mode first (SKIP_BUILD=1 skips that); needs nginx and wrk
# (loadtest/run installs them).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/loadtest/lib.sh"
lt_need nginx wrk bc
NCPU=$(nproc)
ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-5}"; CONNS="${CONNS:-64}"
BIN="${RINGWAY_BIN:-$ROOT/target/release/ringway}"
if [[ -z ${SHARDS:-} ]]; then
    SHARDS=""
    for n in 1 2 4 8 14; do ((n <= NCPU - 2 || n == 1)) && SHARDS+="$n "; done
fi
for n in $SHARDS; do
    ((n >= 1 && n < NCPU)) || { echo "scale: $n shards leave no core for the load on $NCPU CPUs" >&2; exit 1; }
done
[[ -z ${SKIP_BUILD:-} ]] && (cd "$ROOT" && cargo build --release --bin ringway)
[[ -x $BIN ]] || { echo "scale: no $BIN" >&2; exit 1; }
lt_tmpdir
echo "small keep-alive GETs, $CONNS connections per shard, $DURATION s runs, $ROUNDS rounds, $NCPU CPUs ($(uname -r))"
tick=$(getconf CLK_TCK)
# utime+stime of a process and its children that are still running (nginx's workers).
cpu_ticks() {
    local t=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
for n in $SHARDS; do
    proxy_cpus="0-$((n - 1))"; load_lo=$n; load_hi=$((NCPU - 1)); load_n=$((NCPU - n))
    # The backend: one nginx worker per load core, beside wrk.
    cat > "$DIR/be.conf" <<CONF
worker_processes $load_n; daemon off; pid $DIR/be.pid; error_log $DIR/be.err;
events { worker_connections 16384; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:21090 backlog=4096 reuseport;
    location = /small { return 200 "hello world, small body\n"; } } }
CONF
    lt_ringway_conf 21091 21090 > "$DIR/ringway.conf"
    cat > "$DIR/nginx.conf" <<CONF
worker_processes $n; daemon off; pid $DIR/ng.pid; error_log $DIR/ng.err;
events { worker_connections 16384; }
http { access_log off; upstream be { server 127.0.0.1:21090; keepalive 1024; }
  server { listen 127.0.0.1:21091 backlog=4096 reuseport; keepalive_requests 1000000;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
    taskset -c "$load_lo-$load_hi" nginx -c "$DIR/be.conf" -p "$DIR" &
    BE=$!; PIDS=("$BE"); sleep 0.5
    for _ in $(seq 1 "$ROUNDS"); do for proxy in ringway nginx; do
        if [[ $proxy == ringway ]]; then
            taskset -c "$proxy_cpus" "$BIN" -c "$DIR/ringway.conf" --workers "$n" 2>/dev/null &
        else
            taskset -c "$proxy_cpus" nginx -c "$DIR/nginx.conf" -p "$DIR" 2>/dev/null &
        fi
        P=$!; PIDS=("$BE" "$P"); sleep 0.5
        c=$((CONNS * n)); t=$load_n; ((t > c)) && t=$c
        taskset -c "$load_lo-$load_hi" wrk -t"$t" -c"$c" -d1s http://127.0.0.1:21091/small >/dev/null 2>&1
        p0=$(cpu_ticks "$P"); b0=$(lt_busy_ticks "$load_lo" "$load_hi")
        out=$(taskset -c "$load_lo-$load_hi" wrk -t"$t" -c"$c" -d"${DURATION}s" http://127.0.0.1:21091/small 2>&1)
        p1=$(cpu_ticks "$P"); b1=$(lt_busy_ticks "$load_lo" "$load_hi")
        kill "$P"; wait "$P" 2>/dev/null || true
        PIDS=("$BE")
        req=$(echo "$out" | awk '/requests in/ { print $1 }')
        bad=$(echo "$out" | awk '/Non-2xx|Socket errors/' | tr -s ' ' | paste -sd' ')
        [[ -n $req && $req -gt 0 ]] || { echo "scale: $proxy with $n shards served nothing: $out" >&2; exit 1; }
        echo "$n $proxy rps=$(echo "$req/$DURATION" | bc) cpu_us=$(echo "($p1-$p0)*1000000/$tick/$req" | bc -l | cut -c1-6)" \
            "load_pct=$(echo "($b1-$b0)*100/$tick/$DURATION/$load_n" | bc -l | cut -c1-5)${bad:+ $bad}" | tee -a "$DIR/runs"
        sleep 0.3
    done; done
    kill "$BE"; wait "$BE" 2>/dev/null || true
    PIDS=()
done
med() { grep "^$1 $2 " "$DIR/runs" | sed "s/.*$3=//; s/ .*//" | lt_median; }
echo
echo "| shards | proxy | req/s | ÷ (N × 1-shard) | CPU µs/req | capacity scaling | load cores busy |"
echo "|---:|---|---:|---:|---:|---:|---:|"
first=${SHARDS%% *}
for n in $SHARDS; do for proxy in ringway nginx; do
    r=$(med "$n" "$proxy" rps); c=$(med "$n" "$proxy" cpu_us); l=$(med "$n" "$proxy" load_pct)
    r1=$(med "$first" "$proxy" rps); c1=$(med "$first" "$proxy" cpu_us)
    printf '| %s | %s | %s | %.2f | %.2f | %.2f | %.0f%% |\n' "$n" "$proxy" "$r" \
        "$(echo "$r/($n/$first*$r1)" | bc -l)" "$c" "$(echo "$c1/$c" | bc -l)" "$l"
done; done
