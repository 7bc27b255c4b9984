#!/usr/bin/env bash
# Does the ACME machinery cost anything per TLS handshake? User-space instructions (callgrind)
# per new TLS connection (full handshake, one GET, close) for one server whose certificate is a
# static file, against the same server whose certificate is an `acme_certificate` (the same
# certificate and key pre-placed under the issuer's state_path, so it is reused at start and no
# ACME server is needed: the issuer's URL answers nothing, and its thread's renewalInfo check
# fails once at start, before counting begins).
#   loadtest/acme-handshake.sh [ROUNDS] [SECONDS] [CONNS]     e.g. loadtest/acme-handshake.sh 3 3 16
# The two run alternately, ROUNDS times each, one worker under valgrind on CPU 0 and wrk on CPU 1
# with loadtest/tls_shim.c (every handshake a full one, SNI acme.test, as tls_newconn in
# loadtest/lt.py). Counting starts after a 1 s warm-up; the figure is the instructions counted
# (all threads) over the handshakes the client completed. Prints each run, the median per kind
# and the ratio acme / static.
set -euo pipefail
ROUNDS="${1:-3}"; SECS="${2:-3}"; C="${3:-16}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RINGWAY_BIN:-$ROOT/target/release/ringway}"
source "$ROOT/loadtest/lib.sh"
lt_need valgrind wrk openssl cc
lt_tmpdir
PORT=21395
cc -shared -fPIC -O2 -o "$DIR/tls_shim.so" "$ROOT/loadtest/tls_shim.c" -ldl

# One CA and one ECDSA P-256 leaf for acme.test, used by both servers.
(
    cd "$DIR"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
        -out ca.crt -subj /CN=handshake-ca -days 2 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
        -out leaf.csr -subj /CN=acme.test 2>/dev/null
    printf 'subjectAltName=DNS:acme.test\n' > ext
    openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile ext -out leaf.crt 2>/dev/null
    mkdir -p state/certificates
    cp leaf.crt state/certificates/acme.test.crt
    install -m 600 leaf.key state/certificates/acme.test.key
)
cat > "$DIR/static.conf" <<CONF
events {}
http { server { listen 127.0.0.1:$PORT ssl; server_name acme.test;
    ssl_certificate $DIR/leaf.crt; ssl_certificate_key $DIR/leaf.key;
    return 200 "ok"; } }
CONF
cat > "$DIR/acme.conf" <<CONF
events {}
http {
  acme_issuer none { uri https://127.0.0.1:9/dir; state_path $DIR/state; accept_terms_of_service; }
  server { listen 127.0.0.1:$PORT ssl; server_name acme.test; acme_certificate none;
    ssl_certificate \$acme_certificate; ssl_certificate_key \$acme_certificate_key;
    return 200 "ok"; } }
CONF

URL="https://127.0.0.1:$PORT/"
wrk_hs() {  # wrk_hs SECONDS STATS: full handshakes, one request each, as tls_newconn
    LD_PRELOAD="$DIR/tls_shim.so" LT_TLS_SNI=acme.test LT_TLS_NORESUME=1 LT_TLS_STATS="$2" \
        taskset -c 1 wrk -t1 -c"$C" -d"$1s" -H "Connection: close" "$URL" > /dev/null
}

# measure KIND: one run; prints "KIND instructions handshakes per-handshake"
measure() {
    local kind=$1 out="$DIR/cg-$1-$RANDOM"
    mkdir -p "$out"
    taskset -c 0 valgrind --tool=callgrind "--callgrind-out-file=$out/callgrind.out" \
        "$BIN" -c "$DIR/$kind.conf" --workers 1 2> "$DIR/$kind.err" & local P=$!
    PIDS+=($P)
    for _ in $(seq 1 100); do
        curl -sfo /dev/null --cacert "$DIR/ca.crt" --resolve "acme.test:$PORT:127.0.0.1" \
            "https://acme.test:$PORT/" 2>/dev/null && break
        sleep 0.2
    done
    # The log is written by a thread of its own: under valgrind it may come a little later.
    for _ in $(seq 1 50); do
        [[ $kind != acme ]] || grep -q "reusing the stored certificate" "$DIR/$kind.err" && break
        sleep 0.2
    done
    if [[ $kind == acme ]] && ! grep -q "reusing the stored certificate" "$DIR/$kind.err"; then
        kill -KILL "$P"; echo "acme-handshake: the stored certificate was not reused:" >&2; cat "$DIR/$kind.err" >&2; exit 1
    fi
    wrk_hs 1 "$DIR/warm.stats"
    callgrind_control -z "$P" > /dev/null
    wrk_hs "$SECS" "$out/stats"
    callgrind_control -d "$P" > /dev/null
    kill -KILL "$P"; wait "$P" 2>/dev/null || true
    local dump total hs resumed
    dump=$(ls -v "$out"/callgrind.out* | tail -1)
    total=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump")
    hs=$(sed -n 's/.*full=\([0-9]*\).*/\1/p' "$out/stats")
    resumed=$(sed -n 's/.*resumed=\([0-9]*\).*/\1/p' "$out/stats")
    [[ "$resumed" == 0 ]] || echo "acme-handshake: $resumed resumed handshakes (expected none)" >&2
    echo "$kind $total $hs $((total / hs))"
}

echo "instructions per full TLS handshake (+ one GET, close), $C connections, ${SECS}s x $ROUNDS rounds"
: > "$DIR/results"
for r in $(seq 1 "$ROUNDS"); do
    for kind in static acme; do
        line=$(measure "$kind")
        echo "$line" | tee -a "$DIR/results" | awk -v r="$r" '{ printf "round %s %-6s %12s instructions / %6s handshakes = %8s\n", r, $1, $2, $3, $4 }'
    done
done
s=$(awk '$1 == "static" { print $4 }' "$DIR/results" | lt_median)
a=$(awk '$1 == "acme" { print $4 }' "$DIR/results" | lt_median)
echo "median per handshake: static $s, acme $a, acme/static $(awk -v a="$a" -v s="$s" 'BEGIN { printf "%.4f", a / s }')"
