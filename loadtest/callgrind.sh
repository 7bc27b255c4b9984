#!/usr/bin/env bash
# User-space instructions per proxied request, counted by callgrind: unlike CPU time, the count
# barely moves between runs on a noisy machine, so it shows what a user-space change saves.
# (The kernel's share, ~80% of the CPU time on small requests, is not seen: see profile.sh.)
#   loadtest/callgrind.sh ringway|nginx [PATH] [CONNS] [SECONDS] [close]
#   e.g. loadtest/callgrind.sh ringway /small 64 3      loadtest/callgrind.sh nginx /small 64 3
# With H2=1 the proxy listens with TLS and HTTP/2 (a self-signed ECDSA P-256 certificate) and
# h2load makes the load: CONNS connections, 10 streams each, REQUESTS=20000 requests counted
# after a warm-up of 2,000 (SECONDS is then unused). The counted run opens CONNS new
# connections: their ECDSA handshakes are in the count (under 1% of it at 10 connections).
# With TLS=1 the listener has TLS (the same certificate) and wrk makes the load over https:
# with `close`, every request is a new connection: wrk offers the previous session, so most
# handshakes resume, unless NORESUME=1 (wrk then runs with loadtest/tls_shim.c dropping the
# session before each handshake: every one a full handshake, as tls_newconn in loadtest/run).
# Same layout as loadtest/run: the proxy (one worker, under valgrind) on CPU 0, the nginx backend
# and wrk on CPU 1. Counting starts after a warm-up and stops after SECONDS of load; the figure is
# the instructions counted over the requests wrk completed. Prints the per-request total and the
# functions with the most instructions of their own; the profile stays in $OUT_DIR/callgrind.out
# (default /tmp/ringway-callgrind), for callgrind_annotate or kcachegrind.
# Installs valgrind, nginx and wrk when missing.
set -euo pipefail
TARGET="${1:?ringway or nginx}"; URLP="${2:-/small}"; C="${3:-64}"; SECS="${4:-3}"; CLOSE="${5:-}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RINGWAY_BIN:-$ROOT/target/release/ringway}"
OUT="${OUT_DIR:-/tmp/ringway-callgrind}"; mkdir -p "$OUT"
source "$ROOT/loadtest/lib.sh"
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
missing=()
command -v valgrind >/dev/null || missing+=(valgrind)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
command -v wrk >/dev/null || missing+=(wrk)
if ((${#missing[@]})); then
    echo "callgrind: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}"
fi
lt_tmpdir
head -c 65536 /dev/urandom > "$DIR/64k"
lt_backend_conf "$DIR" 21390 > "$DIR/be.conf"
taskset -c 1 nginx -c "$DIR/be.conf" -p "$DIR" & PIDS+=($!)
VG=(valgrind --tool=callgrind "--callgrind-out-file=$OUT/callgrind.out")
TLS_LISTEN=""; SCHEME=http; HTTP2=""
[[ "${H2:-}" == 1 ]] && HTTP2=" http2 on;"
if [[ "${H2:-}" == 1 || "${TLS:-}" == 1 ]]; then
    lt_need h2load openssl
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=localhost -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
    TLS_LISTEN=" ssl; ssl_certificate $DIR/cert.pem; ssl_certificate_key $DIR/key.pem;"
    SCHEME=https
fi
WRK_ENV=()
if [[ "${TLS:-}" == 1 && "${NORESUME:-}" == 1 ]]; then
    cc -shared -fPIC -O2 -o "$DIR/tls_shim.so" "$ROOT/loadtest/tls_shim.c" -ldl
    WRK_ENV=(LD_PRELOAD="$DIR/tls_shim.so" LT_TLS_NORESUME=1 LT_TLS_STATS="$DIR/tls_stats")
fi
case "$TARGET" in
    ringway)
        lt_ringway_conf 21391 21390 | if [[ -n "$TLS_LISTEN" ]]; then
            sed "s|listen 127.0.0.1:21391;|listen 127.0.0.1:21391${TLS_LISTEN}${HTTP2}|"
        else cat; fi > "$DIR/proxy.conf"
        taskset -c 0 "${VG[@]}" "$BIN" -c "$DIR/proxy.conf" --workers 1 2> "$DIR/vg.err" & P=$!
        ;;
    nginx)
        lt_nginx_proxy_conf "$DIR" 21391 21390 | if [[ -n "$TLS_LISTEN" ]]; then
            # nginx before 1.23.4 offers TLS 1.3 only when told (ringway has it by default).
            sed "s|listen 127.0.0.1:21391;|listen 127.0.0.1:21391 ssl${HTTP2:+ http2};${TLS_LISTEN# ssl;} ssl_protocols TLSv1.2 TLSv1.3;|"
        else cat; fi > "$DIR/proxy.conf"
        taskset -c 0 "${VG[@]}" nginx -c "$DIR/proxy.conf" -p "$DIR" 2> "$DIR/vg.err" & P=$!
        ;;
    *) echo "callgrind: ringway or nginx, not $TARGET" >&2; exit 2 ;;
esac
PIDS+=($P)
ARGS=()
[[ "$CLOSE" == close ]] && ARGS=(-H "Connection: close")
URL="$SCHEME://127.0.0.1:21391$URLP"
for _ in $(seq 1 50); do
    curl -kfso /dev/null "$URL" 2>/dev/null && break
    sleep 0.2
done
if [[ "${H2:-}" == 1 ]]; then
    taskset -c 1 h2load -n 2000 -c "$C" -m 10 "$URL" > /dev/null
    callgrind_control -z "$P" > /dev/null
    out=$(taskset -c 1 h2load -n "${REQUESTS:-20000}" -c "$C" -m 10 "$URL")
    callgrind_control -d "$P" > /dev/null
    # wrk's words, for the count below.
    out="$(echo "$out" | awk '/^requests:/ { print $8, "requests in" }')
$(echo "$out" | awk '/^requests:/ && $10 != 0 { print "Socket errors: " $10 " failed" }')"
else
    env "${WRK_ENV[@]}" taskset -c 1 wrk -t1 -c"$C" -d1s "${ARGS[@]}" "$URL" > /dev/null
    callgrind_control -z "$P" > /dev/null
    out=$(env "${WRK_ENV[@]}" taskset -c 1 wrk -t1 -c"$C" -d"${SECS}s" "${ARGS[@]}" "$URL")
    callgrind_control -d "$P" > /dev/null
fi
# The dump is written: no need to wait out a graceful stop, slow under valgrind (once 60-90 s).
kill -KILL "$P"; wait "$P" 2>/dev/null || true
req=$(echo "$out" | awk '/requests in/ { print $1 }')
bad=$(echo "$out" | awk '/Non-2xx|Socket errors/')
# The dump on request is the file with the highest part number.
dump=$(ls -v "$OUT"/callgrind.out* | tail -1)
echo "$TARGET $URLP, $C connections${CLOSE:+, close}: $req requests${bad:+ ($bad)}"
[[ -s "$DIR/tls_stats" ]] && echo "wrk's handshakes (both runs): $(cat "$DIR/tls_stats")"
python3 - "$dump" "$req" <<'PY'
import collections, re, sys
names, own = {}, collections.Counter()
fn, after_call = None, False
def name(tok):
    m = re.match(r'\((\d+)\)(?: (.*))?', tok)
    if m.group(2):
        names[m.group(1)] = m.group(2)
    return names.get(m.group(1), tok)
for line in open(sys.argv[1]):
    if line.startswith('fn='):
        fn = name(line[3:].strip())
    elif line.startswith('cfn='):
        name(line[4:].strip())  # a callee's name may be defined here first
    elif line.startswith('calls='):
        after_call = True
    elif line[:1].isdigit() or line[:1] in '+-*':
        parts = line.split()
        if len(parts) >= 2:
            # The line after calls= is the callee's inclusive cost, not this function's own.
            if not after_call:
                own[fn] += int(parts[1])
            after_call = False
n = int(sys.argv[2])
total = sum(own.values())
print(f"user-space instructions per request: {total / n:.0f}")
for f, c in own.most_common(25):
    print(f"{c / n:9.0f} {100 * c / total:5.1f}%  {f[:120]}")
PY
echo "profile: $dump"
