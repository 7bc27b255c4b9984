#!/usr/bin/env bash
# The kernel's floor for a proxy on small keep-alive requests: HTTP proxies (ringway, nginx)
# beside plain TCP forwarders that parse nothing (nginx's stream module, HAProxy in `mode tcp`,
# and examples/tcp_forward.rs on ringway's own runtime), each client connection piped to a
# backend connection of its own. Same layout as loadtest/run (proxy on CPU 0; the nginx backend
# and wrk on CPU 1), alternating, ROUNDS rounds:
#   loadtest/floor.sh [ROUNDS]       e.g. loadtest/floor.sh 6
# A forwarder sends the same 4 TCP segments per small request as an HTTP proxy, so its CPU is
# what the sockets cost with next to no user-space work: how far under nginx any proxy can get
# on this machine. Prints each run, then each proxy's medians: requests, CPU µs per request
# (utime+stime from /proc), TCP segments per request (whole machine) and CPU per request as a
# ratio to nginx's HTTP proxy.
# URL_PATH (default /small), CONNS (default 64) and SENDFILE=off (the backend writes its files
# from user space, as the harness's does) as in ab-env.sh. PROXIES picks from "ringway nginx
# nginx-stream haproxy-tcp haproxy-splice monoio-tcp"; the default leaves out haproxy-splice
# (`option splice-auto`), which only matters for bodies. There is no new-connection mode: a
# forwarder opens a backend connection per client connection (20 segments per request against
# an HTTP proxy's 12 with its pool), so it is no floor there.
# Builds ringway and the example in release mode first (SKIP_BUILD=1 skips that). Installs
# nginx, its stream module, HAProxy and wrk when missing (Debian).
set -euo pipefail
ROUNDS="${1:-5}"; URL_PATH="${URL_PATH:-/small}"; CONNS="${CONNS:-64}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RINGWAY_BIN:-$ROOT/target/release/ringway}"
FWD="$ROOT/target/release/examples/tcp_forward"
source "$ROOT/loadtest/lib.sh"
export PATH="$PATH:/usr/sbin:/sbin"
STREAM_MOD=/usr/lib/nginx/modules/ngx_stream_module.so
missing=()
command -v nginx >/dev/null || missing+=(nginx)
[[ -f $STREAM_MOD ]] || missing+=(libnginx-mod-stream)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v wrk >/dev/null || missing+=(wrk)
command -v bc >/dev/null || missing+=(bc)
if ((${#missing[@]})); then
    echo "floor: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    # Debian starts the packaged services; the runs need their ports and CPUs.
    systemctl stop nginx haproxy 2>/dev/null || true
fi
if [[ -z ${SKIP_BUILD:-} ]]; then
    (cd "$ROOT" && cargo build --release --bin ringway --example tcp_forward)
fi
for b in "$BIN" "$FWD"; do [[ -x $b ]] || { echo "floor: no $b" >&2; exit 1; }; done
lt_tmpdir
lt_backend_files "$DIR"
lt_backend_conf "$DIR" 21090 > "$DIR/be.conf"
lt_ringway_conf 21091 21090 > "$DIR/ringway.conf"
lt_nginx_proxy_conf "$DIR" 21091 21090 > "$DIR/nginx.conf"
cat > "$DIR/nginx-stream.conf" <<CONF
load_module $STREAM_MOD;
worker_processes 1; daemon off; master_process off; pid $DIR/ng.pid; error_log $DIR/ngs.err;
events { worker_connections 4096; }
stream { server { listen 127.0.0.1:21091; proxy_pass 127.0.0.1:21090; } }
CONF
cat > "$DIR/haproxy-tcp.cfg" <<CONF
global
    nbthread 1
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen fwd
    bind 127.0.0.1:21091
    server be 127.0.0.1:21090
CONF
# The same with splice between the sockets (kernel-side forwarding, as ringway's body relay).
sed 's/^    mode tcp$/    mode tcp\n    option splice-auto/' "$DIR/haproxy-tcp.cfg" > "$DIR/haproxy-splice.cfg"
taskset -c 1 nginx -c "$DIR/be.conf" -p "$DIR" &
BE=$!; PIDS=("$BE")
sleep 0.5
start() {
    case $1 in
        ringway) taskset -c 0 "$BIN" -c "$DIR/ringway.conf" --workers 1 2>/dev/null & ;;
        nginx) taskset -c 0 nginx -c "$DIR/nginx.conf" -p "$DIR" 2>/dev/null & ;;
        nginx-stream) taskset -c 0 nginx -c "$DIR/nginx-stream.conf" -p "$DIR" 2>/dev/null & ;;
        haproxy-tcp) taskset -c 0 haproxy -f "$DIR/haproxy-tcp.cfg" -db 2>/dev/null & ;;
        haproxy-splice) taskset -c 0 haproxy -f "$DIR/haproxy-splice.cfg" -db 2>/dev/null & ;;
        monoio-tcp) taskset -c 0 "$FWD" 127.0.0.1:21091 127.0.0.1:21090 & ;;
    esac
    P=$!; PIDS=("$BE" "$P")
}
URL="http://127.0.0.1:21091$URL_PATH"
PROXIES="${PROXIES:-ringway nginx nginx-stream haproxy-tcp monoio-tcp}"
read -ra LIST <<< "$PROXIES"
# Each round starts one proxy later: none always runs first or right after another.
for r in $(seq 1 "$ROUNDS"); do for i in "${!LIST[@]}"; do
    p=${LIST[$(((i + r - 1) % ${#LIST[@]}))]}
    start "$p"; sleep 0.5
    echo "$p $(lt_measure "$P" "$CONNS" "$URL")" | tee -a "$DIR/runs"
    kill "$P"; wait "$P" 2>/dev/null || true
    sleep 0.3
done; done
med() { { grep "^$1 " "$DIR/runs" || true; } | sed "s/.*$2=//; s/ .*//" | lt_median; }
base=$(med nginx cpu_us_per_req)
for p in $PROXIES; do
    c=$(med "$p" cpu_us_per_req)
    echo "median $p requests=$(med "$p" requests) cpu_us_per_req=$c" \
        "segs_per_req=$(med "$p" segs_per_req)${base:+ cpu_vs_nginx=$(echo "$c/$base" | bc -l | cut -c1-4)}"
done
