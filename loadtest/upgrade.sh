#!/usr/bin/env bash
# Binary upgrade under load, ringway against nginx: the same load on each, and ROUNDS times the
# sequence nginx documents (USR2, wait for the new pid file and .oldbin, WINCH the old process,
# QUIT it), then failed requests counted.
#
#   loadtest/upgrade.sh            (from the repo root; builds nothing: RINGWAY names the binary)
#
# Load on each server, for the whole run: wrk with CONNS keep-alive connections (its socket
# errors and non-2xx answers are failures) and upgrade_client.py with NEWCONN threads opening a
# connection per request (status and body checked). ringway runs from a copy of RINGWAY in a
# temp dir with a pid file, WORKERS shards; nginx (NGINX, master process, daemonized: nginx
# ignores WINCH otherwise) with WORKERS workers, and its "new binary" is the same file.
# Environment: RINGWAY (default target/release/ringway), NGINX (/usr/sbin/nginx), ROUNDS (3),
# CONNS (16), NEWCONN (2), WORKERS (2), PAUSE (seconds between steps, 0.5), ONLY (ringway|nginx).
set -euo pipefail

RINGWAY=${RINGWAY:-target/release/ringway}
NGINX=${NGINX:-/usr/sbin/nginx}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-16}
NEWCONN=${NEWCONN:-2}
WORKERS=${WORKERS:-2}
PAUSE=${PAUSE:-0.5}
ONLY=${ONLY:-}
BODY="upgrade-ok"
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/ringway-upgrade-lt.XXXXXX)
trap 'cleanup' EXIT

PIDS_TO_STOP=()
cleanup() {
    local p
    for p in "${PIDS_TO_STOP[@]}"; do
        if [[ -f $p ]]; then kill -TERM "$(cat "$p")" 2>/dev/null || true; fi
        if [[ -f $p.oldbin ]]; then kill -TERM "$(cat "$p.oldbin")" 2>/dev/null || true; fi
    done
    rm -rf "$WORK"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# gone PID: the process has exited (no /proc entry, or a zombie).
gone() {
    [[ ! -e /proc/$1/stat ]] || [[ $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) == Z ]]
}

# wait_until CMD...: polls CMD for up to 10 s.
wait_until() {
    local _
    for _ in $(seq 1 1000); do
        if "$@"; then return 0; fi
        sleep 0.01
    done
    echo "timed out waiting for: $*" >&2
    return 1
}

upgraded() { [[ -f $1.oldbin && -f $1 && $(cat "$1") != "$2" ]]; }

# upgrade_round PIDFILE: nginx's documented upgrade, once.
upgrade_round() {
    local pidf=$1 old
    old=$(cat "$pidf")
    kill -USR2 "$old"
    wait_until upgraded "$pidf" "$old"
    sleep "$PAUSE"
    kill -WINCH "$old"
    sleep "$PAUSE"
    kill -QUIT "$old"
    wait_until gone "$old"
    sleep "$PAUSE"
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# measure NAME PORT PIDFILE: the load during ROUNDS upgrades; prints one line of results.
measure() {
    local name=$1 port=$2 pidf=$3 secs wrk_pid nc_pid _
    secs=$(python3 -c "print(int(2 + $ROUNDS * (4 * $PAUSE + 0.5) + 2))")
    wrk -t1 -c"$CONNS" -d"${secs}s" "http://127.0.0.1:$port/" >"$WORK/$name.wrk" 2>&1 &
    wrk_pid=$!
    python3 "$HERE/upgrade_client.py" "$port" "$secs" "$NEWCONN" "$BODY" >"$WORK/$name.new" &
    nc_pid=$!
    sleep 1
    for _ in $(seq 1 "$ROUNDS"); do
        upgrade_round "$pidf"
    done
    wait "$wrk_pid" "$nc_pid"
    local reqs errs non2xx
    reqs=$(awk '/requests in/ { print $1 }' "$WORK/$name.wrk")
    errs=$(grep -o 'Socket errors:.*' "$WORK/$name.wrk" || echo "Socket errors: none")
    non2xx=$(awk '/Non-2xx/ { print $NF }' "$WORK/$name.wrk")
    printf '%-8s %d upgrades in %ss | keep-alive (wrk -c%s): %s requests, %s, non-2xx %s | new connections (%s threads): %s\n' \
        "$name" "$ROUNDS" "$secs" "$CONNS" "$reqs" "$errs" "${non2xx:-0}" "$NEWCONN" "$(cat "$WORK/$name.new")"
}

run_ringway() {
    local dir=$WORK/ringway port
    mkdir -p "$dir"
    port=$(free_port)
    cp "$RINGWAY" "$dir/ringway"
    cat >"$dir/ringway.conf" <<CONF
pid $dir/ringway.pid;
http { server { listen 127.0.0.1:$port; keepalive_requests 1000000;
  location / { return 200 "$BODY"; } } }
CONF
    PIDS_TO_STOP+=("$dir/ringway.pid")
    RINGWAY_LOG=warn "$dir/ringway" -c "$dir/ringway.conf" --workers "$WORKERS" 2>"$dir/log" &
    wait_until listening "$port"
    wait_until test -s "$dir/ringway.pid"
    measure ringway "$port" "$dir/ringway.pid"
    kill -QUIT "$(cat "$dir/ringway.pid")"
    grep -iE 'error|warn' "$dir/log" | head -5 || true
}

run_nginx() {
    local dir=$WORK/nginx port
    mkdir -p "$dir/tmp"
    port=$(free_port)
    cat >"$dir/nginx.conf" <<CONF
worker_processes $WORKERS; pid $dir/nginx.pid; error_log $dir/error.log warn;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $dir/tmp/body; proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fcgi; uwsgi_temp_path $dir/tmp/uwsgi; scgi_temp_path $dir/tmp/scgi;
  server { listen 127.0.0.1:$port; keepalive_requests 1000000;
    location / { return 200 "$BODY"; } } }
CONF
    PIDS_TO_STOP+=("$dir/nginx.pid")
    "$NGINX" -p "$dir" -c "$dir/nginx.conf"
    wait_until listening "$port"
    wait_until test -s "$dir/nginx.pid"
    measure nginx "$port" "$dir/nginx.pid"
    kill -QUIT "$(cat "$dir/nginx.pid")"
    grep -vE 'signal|exited|start|reconfiguring|gracefully|reopening|using inherited' "$dir/error.log" | head -5 || true
}

echo "$(date -u +%FT%TZ) $(nproc) cores; $(uname -r); $("$RINGWAY" --version); $("$NGINX" -v 2>&1)"
[[ $ONLY == nginx ]] || run_ringway
[[ $ONLY == ringway ]] || run_nginx
