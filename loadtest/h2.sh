#!/usr/bin/env bash
# HTTP/2 over TLS (ALPN h2), ringway against nginx in the same run, taking turns:
#   loadtest/h2.sh [ROUNDS]            (default 3; PROXIES="ringway nginx" by default)
# Ports: H2_BACKEND_PORT (21590) for the backend, the next two for ringway and nginx.
# Each proxy: one worker on CPU 0, a self-signed certificate, proxying to one nginx backend
# (lib.sh's, CPU 1) with upstream keep-alive. h2load (CPU 1) measures, per round and proxy:
#   small  h2load -n N_SMALL -c 100 -m 10 on /small (24-byte body)       N_SMALL=300000
#          (each round starts a fresh proxy: what it pays once, memory growing and connections
#          opened, lands partly in the counted run; at 10,000 requests it was a third of
#          ringway's CPU per request and a sixth of nginx's, at 300,000 a few percent)
#   1m     h2load -n N_1M -c 10 -m 1 on /1m (1 MiB, random bytes)        N_1M=2000
#   idle   IDLE_CONNS=1000 TLS connections (loadtest/h2_idle_client.py: preface, SETTINGS,
#          SETTINGS ACK, then nothing) to a freshly started proxy; its RSS growth per connection
#          IDLE_SETTLE=3 s after they are open (ringway lets go of a connection's buffers after
#          1 s without a stream, and its allocator returns the pages up to a second later;
#          nginx frees them at once); with IDLE_PATH=/small each connection first makes one
#          GET request for that path ("idle after one request")
# WORKLOADS="small 1m idle" (the default) picks which of the three run.
# small and 1m run after a warm-up (h2load -n 2000 -c 100 -m 10 on /small). CPU is the proxy's utime+stime (/proc/PID/stat)
# over the h2load run, divided by the requests that succeeded (kernel: stime alone). Prints every run, then the
# medians and the ratios ringway/nginx.
# ringway runs only when its build accepts `listen … ssl; http2 on;` (`ringway -t`): until its
# HTTP/2 downstream lands the script says "ringway: SKIPPED (…)" and measures nginx alone.
# nginx 1.22 has no `http2 on;` (1.25.1+): its config says `listen … ssl http2;` instead.
set -euo pipefail
ROUNDS="${1:-3}"; PROXIES="${PROXIES:-ringway nginx}"
N_SMALL="${N_SMALL:-300000}"; N_1M="${N_1M:-2000}"; IDLE_CONNS="${IDLE_CONNS:-1000}"
IDLE_PATH="${IDLE_PATH:-}"; IDLE_SETTLE="${IDLE_SETTLE:-3}"; WORKLOADS="${WORKLOADS:-small 1m idle}"
wants() { [[ " $WORKLOADS " == *" $1 "* ]]; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RINGWAY_BIN:-$ROOT/target/release/ringway}"
BE=${H2_BACKEND_PORT:-21590} RW=$((BE + 1)) NG=$((BE + 2))
source "$ROOT/loadtest/lib.sh"
lt_need nginx h2load openssl curl python3 bc
for port in $BE $RW $NG; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "port $port is taken (another run?); H2_BACKEND_PORT=P uses P, P+1, P+2" >&2; exit 1
    fi
done
lt_tmpdir
lt_backend_files "$DIR"
lt_backend_conf "$DIR" "$BE" > "$DIR/be.conf"
taskset -c 1 nginx -c "$DIR/be.conf" -p "$DIR" & PIDS+=($!)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
CERT="ssl_certificate $DIR/cert.pem; ssl_certificate_key $DIR/key.pem;"
# The configs of lib.sh with TLS and HTTP/2 on the listener: ringway's syntax, then nginx 1.22's.
# nginx before 1.23.4 offers only TLS 1.2 and older unless told: `ssl_protocols` gives it TLS 1.3
# as ringway has it (and as loadtest/run configures it), so both run the same protocol.
lt_ringway_conf "$RW" "$BE" | sed "s|listen 127.0.0.1:$RW;|listen 127.0.0.1:$RW ssl; http2 on; $CERT|" > "$DIR/rw.conf"
lt_nginx_proxy_conf "$DIR" "$NG" "$BE" |
    sed "s|listen 127.0.0.1:$NG;|listen 127.0.0.1:$NG ssl http2; $CERT ssl_protocols TLSv1.2 TLSv1.3;|" > "$DIR/ng.conf"

RUN=()
for p in $PROXIES; do
    case $p in
    ringway)
        if [[ ! -x "$BIN" ]]; then
            echo "ringway: SKIPPED (no binary at $BIN: cargo build --release, or RINGWAY_BIN=PATH)"
        elif ! why=$("$BIN" -t -c "$DIR/rw.conf" 2>&1); then
            echo "ringway: SKIPPED ($BIN refuses the HTTP/2 config, so has no HTTP/2 downstream yet): $(echo "$why" | head -3 | tr '\n' ' ')"
        else
            RUN+=(ringway)
        fi ;;
    nginx) RUN+=(nginx) ;;
    *) echo "unknown proxy $p (PROXIES: ringway nginx)" >&2; exit 1 ;;
    esac
done
((${#RUN[@]})) || { echo "nothing to measure" >&2; exit 1; }
echo "measuring: ${RUN[*]}; rounds $ROUNDS; workloads $WORKLOADS; N_SMALL=$N_SMALL N_1M=$N_1M IDLE_CONNS=$IDLE_CONNS IDLE_PATH=${IDLE_PATH:-none} IDLE_SETTLE=$IDLE_SETTLE"

PROXY_PID=""
start_proxy() { # NAME: starts it on CPU 0, waits until it answers over h2; sets PROXY_PID, PORT
    case $1 in
    ringway) taskset -c 0 "$BIN" -c "$DIR/rw.conf" --workers 1 2>>"$DIR/rw.err" & PROXY_PID=$!; PORT=$RW ;;
    nginx) taskset -c 0 nginx -c "$DIR/ng.conf" -p "$DIR" & PROXY_PID=$!; PORT=$NG ;;
    esac
    local v=""
    for _ in $(seq 50); do
        v=$(curl -sk --http2 -o /dev/null -w '%{http_version}' "https://127.0.0.1:$PORT/small" 2>/dev/null || true)
        [[ "$v" == 2 ]] && return 0
        sleep 0.1
    done
    echo "$1 does not answer over HTTP/2 on port $PORT (curl's HTTP version: '$v')" >&2
    exit 1
}
stop_proxy() {
    kill "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
}
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
sys_ticks() { awk '{print $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }

# h2load_run NAME PATH N CONNS STREAMS: one measured h2load run against the running proxy.
h2load_run() {
    local name=$1 path=$2 n=$3 c=$4 m=$5 tick t0 t1 s0 s1 out ok rps proto
    tick=$(getconf CLK_TCK)
    t0=$(cpu_ticks "$PROXY_PID"); s0=$(sys_ticks "$PROXY_PID")
    out=$(taskset -c 1 h2load -n "$n" -c "$c" -m "$m" "https://127.0.0.1:$PORT$path" 2>&1)
    t1=$(cpu_ticks "$PROXY_PID"); s1=$(sys_ticks "$PROXY_PID")
    echo "$out" > "$DIR/h2load-$name.txt"
    grep -q "Application protocol: h2" <<<"$out" || { echo "$name: h2load did not negotiate h2" >&2; echo "$out" | tail -5 >&2; exit 1; }
    ok=$(awk '/^requests:/{print $8}' <<<"$out")
    rps=$(awk '/^finished in/{print $4}' <<<"$out")
    proto=$(awk '/^TLS Protocol:/{print $3}' <<<"$out")
    echo "requests=$ok rps=$rps tls=$proto cpu_us_per_req=$(echo "($t1-$t0)*1000000/$tick/$ok" | bc -l | cut -c1-7)" \
        "kernel_us_per_req=$(echo "($s1-$s0)*1000000/$tick/$ok" | bc -l | cut -c1-7)" \
        "failed=$(awk '/^requests:/{print $10}' <<<"$out")"
}

# idle_run: the proxy's RSS before and after IDLE_CONNS idle HTTP/2 connections.
idle_run() {
    local r0 r1 opened alive
    sleep 0.5; r0=$(rss_kib "$PROXY_PID")
    coproc IDLE { exec python3 "$ROOT/loadtest/h2_idle_client.py" "$PORT" "$IDLE_CONNS" localhost $IDLE_PATH; }
    read -r opened <&"${IDLE[0]}"
    sleep "$IDLE_SETTLE"; r1=$(rss_kib "$PROXY_PID")
    echo CHECK >&"${IDLE[1]}"; read -r alive <&"${IDLE[0]}"
    exec {IDLE[1]}>&-; wait "$IDLE_PID" 2>/dev/null || true
    echo "rss_before_kib=$r0 rss_after_kib=$r1 kib_per_conn=$(echo "($r1-$r0)/$IDLE_CONNS" | bc -l | cut -c1-6)" \
        "opened=$(awk '{print $2 "/" $2+$3}' <<<"$opened") alive=${alive#ALIVE }"
}

: > "$DIR/runs"
for r in $(seq 1 "$ROUNDS"); do
    for p in "${RUN[@]}"; do
        if wants small || wants 1m; then
            start_proxy "$p"
            taskset -c 1 h2load -n 2000 -c 100 -m 10 "https://127.0.0.1:$PORT/small" >/dev/null 2>&1
            if wants small; then
                res=$(h2load_run "$p-small-$r" /small "$N_SMALL" 100 10); echo "$p small $res" | tee -a "$DIR/runs"
            fi
            if wants 1m; then
                res=$(h2load_run "$p-1m-$r" /1m "$N_1M" 10 1); echo "$p 1m $res" | tee -a "$DIR/runs"
            fi
            stop_proxy
        fi
        # Memory on a fresh process (only start_proxy's one curl request before): the bursts
        # above, or a warm-up, leave freed buffers behind that the idle connections would reuse.
        if wants idle; then
            start_proxy "$p"
            res=$(idle_run); echo "$p idle $res" | tee -a "$DIR/runs"
            stop_proxy
        fi
    done
done

med() { grep "^$1 $2 " "$DIR/runs" | sed "s/.*$3=//; s/ .*//" | lt_median; }
ratio() { [[ -n "$1" && -n "$2" ]] && echo "$1/$2" | bc -l | cut -c1-5 || echo "n/a"; }
echo "== medians over $ROUNDS rounds (proxy on CPU 0, h2load and backend on CPU 1)"
for w in small 1m; do
    wants "$w" || continue
    line="$w:"
    for p in "${RUN[@]}"; do
        line+=" $p $(med "$p" "$w" cpu_us_per_req) µs/req (kernel $(med "$p" "$w" kernel_us_per_req); $(med "$p" "$w" rps) req/s);"
    done
    [[ " ${RUN[*]} " == *" ringway "* && " ${RUN[*]} " == *" nginx "* ]] &&
        line+=" ratio ringway/nginx $(ratio "$(med ringway "$w" cpu_us_per_req)" "$(med nginx "$w" cpu_us_per_req)")"
    echo "$line"
done
wants idle || exit 0
line="idle:"
for p in "${RUN[@]}"; do line+=" $p $(med "$p" idle kib_per_conn) KiB/conn;"; done
[[ " ${RUN[*]} " == *" ringway "* && " ${RUN[*]} " == *" nginx "* ]] &&
    line+=" ratio ringway/nginx $(ratio "$(med ringway idle kib_per_conn)" "$(med nginx idle kib_per_conn)")"
echo "$line"
