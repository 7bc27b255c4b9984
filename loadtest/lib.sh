# Shared by the quick scripts (ab-env.sh, ab-events.sh, profile.sh, floor.sh, ...): the configs
# of the nginx backend, of ringway and of the nginx proxy in front of it, and one measured wrk
# run. loadtest/run has its own (lt.py). Source it.

# lt_backend_conf DIR PORT: nginx (one worker, no master) serving DIR's files with sendfile
# (SENDFILE=off: read and write from user space, as loadtest/run's backend) and a 24-byte /small
# from memory.
lt_backend_conf() {
    cat <<CONF
worker_processes 1; daemon off; master_process off; pid $1/be.pid; error_log $1/be.err;
events { worker_connections 4096; }
http { access_log off; sendfile ${SENDFILE:-on};
  server { listen 127.0.0.1:$2; keepalive_requests 1000000;
    location / { root $1; }
    location = /small { return 200 "hello world, small body\n"; } } }
CONF
}

# lt_backend_files DIR: the backend's /4k, /16k, /32k, /64k, /256k, /1m and /16m (random bytes).
lt_backend_files() {
    local k name
    for k in 4 16 32 64 256 1024 16384; do
        name="${k}k"; [[ $k == 1024 ]] && name=1m; [[ $k == 16384 ]] && name=16m
        head -c $((k * 1024)) /dev/urandom > "$1/$name"
    done
}

# lt_out_segs: TCP segments sent by the whole machine (loopback: every hop, ACKs included).
lt_out_segs() {
    awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "OutSegs") c = i; h = 1 } else print $c }' /proc/net/snmp
}

# lt_measure PID CONNS URL [WRK_ARGS...]: wrk on CPU 1, a 1 s warm-up and then 5 s measured;
# prints "requests=N cpu_us_per_req=X segs_per_req=Y load_cpu_pct=Z" (PID's utime+stime per
# request, the machine's TCP segments per request, how busy CPU 1 was), then wrk's error lines.
lt_measure() {
    local pid=$1 conns=$2 url=$3 tick t0 t1 g0 g1 l0 l1 out req errs
    shift 3
    tick=$(getconf CLK_TCK)
    taskset -c 1 wrk -t1 -c"$conns" -d1s "$@" "$url" >/dev/null 2>&1
    t0=$(awk '{print $14+$15}' "/proc/$pid/stat"); g0=$(lt_out_segs); l0=$(lt_busy_ticks 1 1)
    out=$(taskset -c 1 wrk -t1 -c"$conns" -d5s "$@" "$url" 2>&1)
    t1=$(awk '{print $14+$15}' "/proc/$pid/stat"); g1=$(lt_out_segs); l1=$(lt_busy_ticks 1 1)
    req=$(echo "$out" | awk '/requests in/{print $1}')
    errs=$(echo "$out" | awk '/Non-2xx|Socket errors/' | tr -s ' ' | paste -sd' ')
    echo "requests=$req cpu_us_per_req=$(echo "($t1-$t0)*1000000/$tick/$req" | bc -l | cut -c1-6)" \
        "segs_per_req=$(echo "($g1-$g0)/$req" | bc -l | cut -c1-5)" \
        "load_cpu_pct=$(echo "($l1-$l0)*100/$tick/5" | bc -l | cut -c1-5)${errs:+ $errs}"
}

# lt_busy_ticks LO HI: busy ticks of CPUs LO..HI (/proc/stat: user nice system irq softirq), e.g.
# the load generator's and backend's cores, softirq work that lands there included.
lt_busy_ticks() {
    awk -v lo="$1" -v hi="$2" '$1 ~ /^cpu[0-9]+$/ { c = substr($1, 4) + 0
        if (c >= lo && c <= hi) s += $2 + $3 + $4 + $7 + $8 } END { print s + 0 }' /proc/stat
}

# lt_access_log NAME: the http-level access_log line of a quick script's proxy. ACCESS_LOG=1:
# nginx's combined format, buffer=64k flush=1s, into $DIR/access-NAME.log (as loadtest/run's
# ACCESS_LOG=1); otherwise none (nginx: access_log off).
lt_access_log() {
    if [[ "${ACCESS_LOG:-0}" == 1 ]]; then
        echo "access_log ${DIR:-/tmp}/access-$1.log combined buffer=64k flush=1s;"
    elif [[ "$1" == nginx ]]; then
        echo "access_log off;"
    fi
}

# lt_ringway_conf PORT BACKEND_PORT [EVENTS]: ringway proxying everything to the backend, with
# EVENTS as the text of its events block.
lt_ringway_conf() {
    cat <<CONF
events { ${3:-} }
http { $(lt_access_log ringway) upstream be { server 127.0.0.1:$2; keepalive 1024; }
  server { listen 127.0.0.1:$1; keepalive_requests 1000000;
    location / { proxy_pass http://be; } } }
CONF
}

# lt_nginx_proxy_conf DIR PORT BACKEND_PORT: the same proxy in nginx (upstream keep-alive).
lt_nginx_proxy_conf() {
    cat <<CONF
worker_processes 1; daemon off; master_process off; pid $1/ng.pid; error_log $1/ng.err;
events { worker_connections 4096; }
http { $(lt_access_log nginx) upstream be { server 127.0.0.1:$3; keepalive 1024; }
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

# lt_text_page FILE: 100 KiB of compressible text (made-up words, fixed seed), the page the
# compression scripts measure.
lt_text_page() {
    python3 - "$1" <<'PY'
import random, sys
random.seed(21)
syl = ["ka", "lo", "ri", "ne", "su", "to", "ma", "vi", "de", "po", "an", "el", "ur", "is"]
words = ["".join(random.choice(syl) for _ in range(random.randint(1, 4))) for _ in range(3000)]
out, n = [], 0
while n < 100 * 1024:
    line = " ".join(random.choice(words) for _ in range(random.randint(6, 14))) + ".\n"
    out.append(line); n += len(line)
open(sys.argv[1], "w").write("".join(out)[: 100 * 1024])
PY
}
