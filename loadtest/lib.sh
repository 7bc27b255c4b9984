# Shared by the quick scripts (ab-env.sh, ab-events.sh, profile.sh): the configs of the nginx
# backend, of ringway and of the nginx proxy in front of it. loadtest/run has its own (lt.py).
# Source it; each function prints a config.

# lt_backend_conf DIR PORT: nginx (one worker, no master) serving DIR's files with sendfile and
# a 24-byte /small from memory.
lt_backend_conf() {
    cat <<CONF
worker_processes 1; daemon off; master_process off; pid $1/be.pid; error_log $1/be.err;
events { worker_connections 4096; }
http { access_log off; sendfile on;
  server { listen 127.0.0.1:$2; keepalive_requests 1000000;
    location / { root $1; }
    location = /small { return 200 "hello world, small body\n"; } } }
CONF
}

# lt_ringway_conf PORT BACKEND_PORT [EVENTS]: ringway proxying everything to the backend, with
# EVENTS as the text of its events block.
lt_ringway_conf() {
    cat <<CONF
events { ${3:-} }
http { upstream be { server 127.0.0.1:$2; keepalive 1024; }
  server { listen 127.0.0.1:$1; keepalive_requests 1000000;
    location / { proxy_pass http://be; } } }
CONF
}

# lt_nginx_proxy_conf DIR PORT BACKEND_PORT: the same proxy in nginx (upstream keep-alive).
lt_nginx_proxy_conf() {
    cat <<CONF
worker_processes 1; daemon off; master_process off; pid $1/ng.pid; error_log $1/ng.err;
events { worker_connections 4096; }
http { access_log off; upstream be { server 127.0.0.1:$3; keepalive 1024; }
  server { listen 127.0.0.1:$2; keepalive_requests 1000000;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
}

# lt_median: the median of the numbers on stdin, one per line.
lt_median() {
    sort -n | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# lt_need TOOL...: stop with a hint when a tool a quick script uses is missing.
lt_need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || [[ -x /usr/sbin/$t ]] || { echo "needs $t (loadtest/run installs it)" >&2; exit 1; }
    done
}

# lt_tmpdir: sets DIR (a new temporary directory nginx's workers can read) and PIDS (processes
# to kill); on exit the PIDS are killed and DIR removed.
lt_tmpdir() {
    export PATH="$PATH:/usr/sbin"
    DIR="$(mktemp -d)"; chmod 755 "$DIR"
    PIDS=()
    # `|| true`: under `set -e` a process that already exited would stop the trap before the rm.
    trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$DIR"' EXIT
}
