#!/usr/bin/env bash
# Where a proxy's CPU time goes, kernel included: perf sampling on the cpu-clock software event
# (a timer, so it works on VMs without hardware counters), with call graphs.
#   loadtest/profile.sh ringway|nginx PATH CONNS SECONDS [close]
#   e.g. loadtest/profile.sh ringway /small 64 5        loadtest/profile.sh nginx /1m 16 5
# Same layout as loadtest/run: the proxy (one worker) on CPU 0; the nginx backend and wrk on
# CPU 1. Backend: /small (24 bytes, from memory), /64k and /1m (files, sendfile). "close" sends
# `Connection: close` (a new connection per request). Prints req/s, the kernel/user split and
# the top symbols; the full profile stays in $OUT_DIR/perf.data (default /tmp/ringway-profile):
#   perf report -i /tmp/ringway-profile/perf.data --no-children
# With TLS=1 the proxy listens with TLS (a self-signed ECDSA P-256 certificate) and wrk goes over
# https; NORESUME=1 adds loadtest/tls_shim.c so that every handshake is a full one (with `close`:
# one full handshake per request, as tls_newconn in loadtest/run). OPS=1 also counts, per request,
# the proxy's io_uring operations by opcode and its syscalls of note (perf tracepoints).
# With H2=1 the listener has TLS and HTTP/2 (as with TLS=1) and h2load makes the load instead of
# wrk: CONNS connections, 10 streams each (loadtest/h2.sh's small workload, h2load -c 100 -m 10).
# Installs perf (Debian: linux-perf), nginx and wrk when missing. Under a hypervisor, a sample taken while
# interrupts are off lands where they come back on: _raw_spin_unlock_irqrestore stands for the
# irq-off region before it (waking a process on the other CPU, timer programming), not for a lock.
set -euo pipefail
TARGET="${1:?ringway or nginx}"; URLP="${2:-/small}"; C="${3:-64}"; SECS="${4:-5}"; CLOSE="${5:-}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RINGWAY_BIN:-$ROOT/target/release/ringway}"
OUT="${OUT_DIR:-/tmp/ringway-profile}"; mkdir -p "$OUT"
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
missing=()
command -v perf >/dev/null || missing+=(linux-perf)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
command -v wrk >/dev/null || missing+=(wrk)
if ((${#missing[@]})); then
    echo "profile: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}"
fi
export PATH="$PATH:/usr/sbin:/sbin"
DIR="$(mktemp -d)"; chmod 755 "$DIR"   # nginx's worker (nobody) reads the files
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
head -c 65536 /dev/urandom > "$DIR/64k"; head -c 1048576 /dev/urandom > "$DIR/1m"
source "$ROOT/loadtest/lib.sh"
lt_backend_conf "$DIR" 21190 > "$DIR/be.conf"
lt_ringway_conf 21191 21190 > "$DIR/rw.conf"
lt_nginx_proxy_conf "$DIR" 21191 21190 > "$DIR/ng.conf"
SCHEME=http; WRK_ENV=()
if [[ "${TLS:-}" == 1 || "${H2:-}" == 1 ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=localhost -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
    certs="ssl_certificate $DIR/cert.pem; ssl_certificate_key $DIR/key.pem;"
    if [[ "${H2:-}" == 1 ]]; then
        command -v h2load >/dev/null || { echo "profile: H2=1 needs h2load (nghttp2-client)" >&2; exit 2; }
        sed -i "s|listen 127.0.0.1:21191;|listen 127.0.0.1:21191 ssl; http2 on; $certs|" "$DIR/rw.conf"
        sed -i "s|listen 127.0.0.1:21191;|listen 127.0.0.1:21191 ssl http2; $certs|" "$DIR/ng.conf"
    else
        sed -i "s|listen 127.0.0.1:21191;|listen 127.0.0.1:21191 ssl; $certs|" "$DIR/rw.conf" "$DIR/ng.conf"
    fi
    # nginx before 1.23.4 offers TLS 1.3 only when told (ringway has it by default).
    sed -i "s|$certs|$certs ssl_protocols TLSv1.2 TLSv1.3;|" "$DIR/ng.conf"
    SCHEME=https
    if [[ "${NORESUME:-}" == 1 ]]; then
        cc -shared -fPIC -O2 -o "$DIR/tls_shim.so" "$ROOT/loadtest/tls_shim.c" -ldl
        WRK_ENV=(LD_PRELOAD="$DIR/tls_shim.so" LT_TLS_NORESUME=1)
    fi
fi
taskset -c 1 nginx -c "$DIR/be.conf" -p "$DIR" & PIDS+=($!)
case "$TARGET" in
    ringway) taskset -c 0 "$BIN" -c "$DIR/rw.conf" --workers 1 2>"$DIR/rw.err" & P=$! ;;
    nginx) taskset -c 0 nginx -c "$DIR/ng.conf" -p "$DIR" & P=$! ;;
    *) echo "profile: ringway or nginx, not $TARGET" >&2; exit 2 ;;
esac
PIDS+=("$P")
sleep 0.7
LUA=()
if [ "$CLOSE" = close ]; then
    echo 'wrk.headers["Connection"] = "close"' > "$DIR/close.lua"; LUA=(-s "$DIR/close.lua")
fi
URL="$SCHEME://127.0.0.1:21191$URLP"
# The load: wrk, or h2load with H2=1 (its summary rewritten in wrk's words for what follows).
load() {
    if [[ "${H2:-}" == 1 ]]; then
        taskset -c 1 h2load -c "$C" -m 10 -D "$1" "$URL" | awk '
            /^finished in/ { rps = $4 }
            /^requests:/ { print $8, "requests in"; print "Requests/sec:", rps + 0
                           if ($10 != 0) print "Socket errors: " $10 " failed" }'
    else
        env "${WRK_ENV[@]}" taskset -c 1 wrk -t1 -c"$C" -d"$1s" "${LUA[@]}" "$URL"
    fi
}
load 1 >/dev/null
tick=$(getconf CLK_TCK)
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$P/stat")
EVENTS=(-e cpu-clock -g)
if [[ "${OPS:-}" == 1 ]]; then
    EVENTS+=(-e io_uring:io_uring_submit_req -e syscalls:sys_enter_io_uring_enter
        -e syscalls:sys_enter_sendmsg -e syscalls:sys_enter_recvfrom -e syscalls:sys_enter_getrandom
        -e syscalls:sys_enter_sendfile64 -e syscalls:sys_enter_fcntl)
fi
perf record -q "${EVENTS[@]}" -p "$P" -o "$OUT/perf.data" -- sleep "$SECS" 2>/dev/null &
REC=$!
res=$(load "$SECS")
wait "$REC" || true
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$P/stat")
n=$(echo "$res" | awk '/requests in/{print $1}')
echo "$TARGET $URLP c=$C ${CLOSE:+(close) }: $n requests, $(echo "$res" | awk '/Requests\/sec/{print $2}') req/s"
echo "$res" | grep -E "Non-2xx|Socket errors" || true
awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v n="$n" -v t="$tick" 'BEGIN {
    printf "CPU µs/req %.2f = user %.2f + kernel %.2f (kernel %.0f%%)\n",
        (u + s) / t / n * 1e6, u / t / n * 1e6, s / t / n * 1e6, 100 * s / (u + s) }'
if [[ "${OPS:-}" == 1 ]]; then
    echo "per request, roughly (perf's window and wrk's differ a little; tracing inflates the CPU figures above):"
    perf script -i "$OUT/perf.data" 2>/dev/null \
        | grep -oE 'opcode [A-Z_0-9]+|sys_enter_[a-z_0-9]+' | sort | uniq -c \
        | awk -v n="$n" '{ printf "  %6.2f %s\n", $1 / n, $2 == "opcode" ? $3 : $2 }' \
        | sort -rn
fi
perf report -i "$OUT/perf.data" --stdio --no-children --sort dso 2>/dev/null | grep -E '^ +[0-9]' | head -5
perf report -i "$OUT/perf.data" --stdio --no-children --sort sym 2>/dev/null | grep -E '^ +[0-9]' | head -25
