#!/usr/bin/env python3
"""Load-test driver for ringway, called by loadtest/run (standard library only).

Starts one nginx backend, then for every round and workload runs wrk against ringway,
against nginx configured as an equivalent reverse proxy, and straight at the backend,
one at a time; measures the proxy's CPU time and memory; writes loadtest/out/report.md.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

if __name__ == "__main__":
    # slowloris.py does `import lt`: let it share this module (its children list, settings).
    sys.modules.setdefault("lt", sys.modules[__name__])

# ---------------------------------------------------------------------------------- settings

ENV = os.environ
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = int(ENV.get("ROUNDS", "3"))
DURATION = int(ENV.get("DURATION", "5"))
WARMUP = int(ENV.get("WARMUP", "1"))
BUDGET = int(ENV.get("BUDGET", "0")) or None
# Idle upstream connections each proxy may keep (nginx's `keepalive N`, ringway's per shard): at
# least the largest client concurrency, so that no keep-alive run churns upstream connections.
UPSTREAM_KEEPALIVE = int(ENV.get("UPSTREAM_KEEPALIVE", "1024"))
WORKLOADS = ENV.get("WORKLOADS", "small 1m upload").split()
BACKEND_PORT = int(ENV.get("BACKEND_PORT", "28080"))
RINGWAY_PORT = int(ENV.get("RINGWAY_PORT", "28081"))
NGINX_PORT = int(ENV.get("NGINX_PORT", "28082"))
HAPROXY_PORT = int(ENV.get("HAPROXY_PORT", "28083"))
NGINX_NOBUF_PORT = int(ENV.get("NGINX_NOBUF_PORT", "28084"))
# TLS workloads: the backend's own TLS port ("direct" over TLS), the SNI wrk and the Python clients
# send, the idle TLS connections, the two loads of tls_hs, and lines added to ringway's TLS server.
BACKEND_TLS_PORT = int(ENV.get("BACKEND_TLS_PORT", "28086"))
TLS_SNI = ENV.get("TLS_SNI", "localhost")
TLS_IDLE_CONNS = min(10000, int(ENV.get("TLS_IDLE_CONNS", "10000")))
CONNS_HS = int(ENV.get("CONNS_HS", "256"))
CONNS_HS_KA = int(ENV.get("CONNS_HS_KA", "16"))
RINGWAY_TLS_EXTRA = ENV.get("RINGWAY_TLS_EXTRA", "")
PROXIES = ENV.get("PROXIES", "ringway nginx haproxy").split()
# nginx-nobuf (proxy_buffering off; proxy_request_buffering off): "auto" = for the workloads with
# 1 MiB+ bodies, "1" = every workload (except idle), "0" = never.
NGINX_NOBUF = ENV.get("NGINX_NOBUF", "auto")
CONNS_SMALL512 = int(ENV.get("CONNS_SMALL512", "512"))
CONNS_NEWCONN = int(ENV.get("CONNS_NEWCONN", "64"))
IDLE_CONNS = min(15000, int(ENV.get("IDLE_CONNS", "10000")))
IDLE_ACTIVE = int(ENV.get("IDLE_ACTIVE", "1000"))
IDLE_SETTLE = float(ENV.get("IDLE_SETTLE", "3"))
# burst: BURST_CONNS connections opened, then one request on every one at the same moment; RSS
# read BURST_SAMPLES seconds after the last answer arrived. Each proxy may then hold a client and
# an upstream connection per request at once: 10,000 is close to the 20,000 open files a process
# gets here.
BURST_CONNS = min(15000, int(ENV.get("BURST_CONNS", "10000")))
BURST_SAMPLES = [float(x) for x in ENV.get("BURST_SAMPLES", "1 5 40").split()]
BURST_SETTLE = float(ENV.get("BURST_SETTLE", "2"))
LAT_RATE = int(ENV.get("LAT_RATE", "0"))  # 0: half of nginx's median small req/s of this run
OHA = ENV.get("OHA_BIN", "")
HAPROXY = ENV.get("HAPROXY_BIN") or "haproxy"
PROXY_CPU = ENV.get("PROXY_CPU", "0")
LOAD_CPU = ENV.get("LOAD_CPU", "1")
CONNS_SMALL = int(ENV.get("CONNS_SMALL", "64"))
CONNS_LARGE = int(ENV.get("CONNS_LARGE", "16"))
NGINX_EXTRA = ENV.get("NGINX_EXTRA", "")
# ACCESS_LOG=1: both proxies write nginx's combined access log, buffered as an operator would
# (buffer=64k flush=1s), into the run's temporary directory; 0: none (nginx: access_log off).
ACCESS_LOG = ENV.get("ACCESS_LOG", "0") == "1"


def access_log_line(d: str, who: str) -> str:
    """The http-level access_log line of one proxy's config."""
    if not ACCESS_LOG:
        return "access_log off;"
    return f"access_log {d}/access-{who}.log combined buffer=64k flush=1s;"
# DEFERRED=1: every proxy's listener defers accept until the first bytes (TCP_DEFER_ACCEPT):
# `listen … deferred` in ringway and nginx, `defer-accept` in HAProxy. Off by default, as in all three.
DEFERRED = ENV.get("DEFERRED", "0") == "1"
LISTEN_OPT = " deferred" if DEFERRED else ""
RINGWAY_BIN = ENV.get("RINGWAY_BIN", os.path.join(ROOT, "target", "release", "ringway"))
WORKDIR = ENV.get("WORKDIR") or "/tmp/ringway-loadtest"
OUT_DIR = os.path.abspath(os.path.join(ROOT, ENV.get("OUT_DIR", "loadtest/out")))
LOG_DIR = os.path.join(OUT_DIR, "logs")
PIDS_FILE = os.path.join(WORKDIR, "pids")
NGINX = ENV.get("NGINX_BIN") or "nginx"

CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
SMALL_BODY = (b"ringway load test: small response " * 3)[:99] + b"\n"  # 100 bytes
assert len(SMALL_BODY) == 100
UPLOAD_REPLY = b"ok\n"
HEADER_SLACK = 1024  # most response-header bytes per response we accept in the size check

START = time.monotonic()


@dataclass
class Workload:
    name: str
    path: str
    conns: int
    method: str  # GET or POST
    resp_body: int  # expected response body size
    upload: int  # request body size
    what: str
    kind: str = "wrk"  # wrk | lat (oha at a fixed rate) | idle (idle connections + wrk on top) | burst | slow
    #                    | cache (wrk on cached HITs) | stampede | restart (see loadtest/cache.py)
    close: bool = False  # Connection: close on every request (a new connection per request)
    tls: bool = False  # over TLS (https), proxies terminating TLS with an ECDSA P-256 certificate
    resume: bool = True  # TLS: the client may resume sessions (False: every handshake a full one)


ALL_WORKLOADS = {
    "small": Workload("small", "/small", CONNS_SMALL, "GET", len(SMALL_BODY), 0,
                      f"GET /small (100-byte body), keep-alive, {CONNS_SMALL} connections"),
    "1m": Workload("1m", "/1m", CONNS_LARGE, "GET", MIB, 0,
                   f"GET /1m (1 MiB static file), {CONNS_LARGE} connections"),
    "upload": Workload("upload", "/upload", CONNS_LARGE, "POST", len(UPLOAD_REPLY), MIB,
                       f"POST /upload with a 1 MiB body (backend reads it all, then answers), "
                       f"{CONNS_LARGE} connections"),
    "upload_early": Workload("upload_early", "/upload_early", CONNS_LARGE, "POST", len(UPLOAD_REPLY), MIB,
                             f"POST /upload_early with a 1 MiB body (backend answers at once and "
                             f"discards the body afterwards), {CONNS_LARGE} connections"),
    "small512": Workload("small512", "/small", CONNS_SMALL512, "GET", len(SMALL_BODY), 0,
                         f"GET /small (100-byte body), keep-alive, {CONNS_SMALL512} connections"),
    "newconn": Workload("newconn", "/small", CONNS_NEWCONN, "GET", len(SMALL_BODY), 0,
                        f"GET /small with `Connection: close`: a new client connection per request, "
                        f"{CONNS_NEWCONN} concurrent", close=True),
    "64k": Workload("64k", "/64k", CONNS_LARGE, "GET", 64 * 1024, 0,
                    f"GET /64k (64 KiB static file), {CONNS_LARGE} connections"),
    "16m": Workload("16m", "/16m", CONNS_LARGE, "GET", 16 * MIB, 0,
                    f"GET /16m (16 MiB static file), {CONNS_LARGE} connections"),
    "lat": Workload("lat", "/small", CONNS_SMALL, "GET", len(SMALL_BODY), 0,
                    f"GET /small at a fixed rate (half of nginx's median `small` req/s of this run, or "
                    f"LAT_RATE), oha, {CONNS_SMALL} connections, latency corrected for coordinated omission",
                    kind="lat"),
    "idle": Workload("idle", "/small", IDLE_ACTIVE, "GET", len(SMALL_BODY), 0,
                     f"{IDLE_CONNS} idle keep-alive client connections (one request each), then GET /small "
                     f"with {IDLE_ACTIVE} active connections on top", kind="idle"),
    "burst": Workload("burst", "/small", BURST_CONNS, "GET", len(SMALL_BODY), 0,
                      f"{BURST_CONNS} keep-alive client connections opened, then one GET /small on every one "
                      f"at the same moment, then idle: RSS per connection "
                      f"{', '.join(f'{t:g}' for t in BURST_SAMPLES)} s after the last answer", kind="burst"),
    "slowloris": Workload("slowloris", "/small", CONNS_SMALL, "GET", len(SMALL_BODY), 0,
                          f"GET /small, {CONNS_SMALL} connections, without and then with slow clients open "
                          f"(slowloris heads and slow readers, see loadtest/README.md); proxies with "
                          f"short client timeouts", kind="slow"),
    # TLS termination (see "TLS" in loadtest/README.md): wrk over https with loadtest/tls_shim.c
    "tls_small": Workload("tls_small", "/small", CONNS_SMALL, "GET", len(SMALL_BODY), 0,
                          f"TLS: GET /small (100-byte body), keep-alive, {CONNS_SMALL} connections", tls=True),
    "tls_newconn": Workload("tls_newconn", "/small", CONNS_NEWCONN, "GET", len(SMALL_BODY), 0,
                            f"TLS: GET /small with `Connection: close`, every request on a new connection with a "
                            f"full handshake (no resumption), {CONNS_NEWCONN} concurrent",
                            close=True, tls=True, resume=False),
    "tls_resume": Workload("tls_resume", "/small", CONNS_NEWCONN, "GET", len(SMALL_BODY), 0,
                           f"TLS: GET /small with `Connection: close`, every request on a new connection that "
                           f"resumes the previous session (TLS 1.3 ticket), {CONNS_NEWCONN} concurrent",
                           close=True, tls=True),
    "tls_1m": Workload("tls_1m", "/1m", CONNS_LARGE, "GET", MIB, 0,
                       f"TLS: GET /1m (1 MiB static file), {CONNS_LARGE} connections", tls=True),
    "tls_upload": Workload("tls_upload", "/upload", CONNS_LARGE, "POST", len(UPLOAD_REPLY), MIB,
                           f"TLS: POST /upload with a 1 MiB body (backend reads it all, then answers), "
                           f"{CONNS_LARGE} connections", tls=True),
    "tls_idle": Workload("tls_idle", "/small", IDLE_ACTIVE, "GET", len(SMALL_BODY), 0,
                         f"TLS: {TLS_IDLE_CONNS} idle keep-alive TLS client connections (one request each), then "
                         f"GET /small with {IDLE_ACTIVE} active TLS connections on top", kind="idle", tls=True),
    "tls_hs": Workload("tls_hs", "/small", CONNS_HS_KA, "GET", len(SMALL_BODY), 0,
                       f"TLS: GET /small on {CONNS_HS_KA} keep-alive connections alone, then while {CONNS_HS} "
                       f"concurrent clients make a new connection with a full handshake per request",
                       kind="hs", tls=True),
    # proxy_cache (see "Cache" in loadtest/README.md and loadtest/cache.py): ringway and nginx only
    "cache_small": Workload("cache_small", "/small", CONNS_SMALL, "GET", len(SMALL_BODY), 0,
                            f"cache: GET /small answered from the proxy's cache (HITs; warmed by one request), "
                            f"keep-alive, {CONNS_SMALL} connections", kind="cache"),
    "cache_1m": Workload("cache_1m", "/1m", CONNS_LARGE, "GET", MIB, 0,
                         f"cache: GET /1m answered from the proxy's cache (HITs; warmed by one request; nginx "
                         f"with `sendfile on`), {CONNS_LARGE} connections", kind="cache"),
    "cache_stampede": Workload("cache_stampede", "/stampede", int(ENV.get("STAMPEDE_CONNS", "1000")), "GET",
                               int(ENV.get("STAMPEDE_BODY", "100")), 0,
                               f"cache: {ENV.get('STAMPEDE_CONNS', '1000')} concurrent requests for one cold key, "
                               f"the origin answering after {ENV.get('STAMPEDE_DELAY', '0.5')} s, `proxy_cache_lock on`, "
                               f"{ENV.get('STAMPEDE_WORKERS', '2')} workers", kind="stampede"),
    "cache_restart": Workload("cache_restart", "/small", int(ENV.get("CACHE_FILL_CONNS", "32")), "GET",
                              len(SMALL_BODY), 0,
                              f"cache: {int(ENV.get('CACHE_KEYS', '100000')):,} entries on disk (filled through the "
                              f"proxy), then a restart: time to the first response and the first HIT, index memory "
                              f"per key", kind="restart"),
}
CACHE_KINDS = ("cache", "stampede", "restart")
ALIASES = {"all": "small small512 newconn 64k 1m 16m upload lat idle",
           "tls": "tls_small tls_newconn tls_resume tls_1m tls_upload tls_idle tls_hs",
           "cache": "cache_small cache_1m cache_stampede cache_restart"}
BIG_BODY = ("1m", "16m", "upload", "upload_early", "tls_1m", "tls_upload")

PROXY_PORTS = {"ringway": RINGWAY_PORT, "nginx": NGINX_PORT, "haproxy": HAPROXY_PORT,
               "nginx-nobuf": NGINX_NOBUF_PORT, "direct": BACKEND_PORT}
TARGETS = ("ringway", "nginx", "haproxy", "nginx-nobuf", "direct")  # report order
FILES = {"1m": MIB, "64k": 64 * 1024, "16m": 16 * MIB}  # static files of the backend


def targets_for(w: Workload, rnd: int) -> list[str]:
    """The targets of one workload in one round: proxies rotated by round, direct last."""
    ps = list(PROXIES)
    if w.kind in CACHE_KINDS:  # HAProxy has no disk cache: ringway and nginx only
        ps = [p for p in ps if p in ("ringway", "nginx")]
    if "nginx" in ps and w.kind not in ("idle", "burst") + CACHE_KINDS and (NGINX_NOBUF == "1" or (NGINX_NOBUF == "auto" and w.name in BIG_BODY)):
        ps.insert(ps.index("nginx") + 1, "nginx-nobuf")
    k = (rnd - 1) % len(ps) if ps else 0
    ps = ps[k:] + ps[:k]
    return ps + ([] if w.kind in ("idle", "burst", "slow", "hs", "stampede", "restart") else ["direct"])

# ---------------------------------------------------------------------------------- processes

children: list[subprocess.Popen] = []


def log(msg: str) -> None:
    print(f"[loadtest {time.monotonic() - START:6.1f}s] {msg}", file=sys.stderr, flush=True)


def spawn(argv: list[str], logfile: str, env: dict | None = None) -> subprocess.Popen:
    out = open(logfile, "ab")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                         env=env, start_new_session=True)
    out.close()
    children.append(p)
    with open(PIDS_FILE, "a") as f:
        f.write(f"{p.pid}\n")
    return p


def stop(p: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 5.0) -> int | None:
    """Stops a child; returns its exit status (negative: killed by that signal)."""
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(grace)
        except subprocess.TimeoutExpired:
            log(f"pid {p.pid} ignored signal {sig} for {grace}s: SIGKILL")
            p.kill()
            p.wait()
        except ProcessLookupError:
            pass
    if p in children:
        children.remove(p)
    return p.returncode


def stop_all() -> None:
    for p in list(children):
        stop(p, grace=2.0)


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def port_free(port: int) -> bool:
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait_port(port: int, p: subprocess.Popen, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_port_free(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not port_free(port):
        time.sleep(0.05)


def tail(path: str, n: int = 30) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        return f"(cannot read {path}: {e})"
    return "\n".join(lines[-n:])


# ---------------------------------------------------------------------------------- /proc

def proc_ticks(pid: int) -> tuple[int, int]:
    """(utime, stime): fields 14 and 15 of /proc/PID/stat, all threads of the process. stime is
    the proxy's time in the kernel (syscalls, io_uring, the TCP work its sends and receives do,
    loopback delivery to the peer included)."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()  # rest[0] is field 3 (state)
    return int(rest[14 - 3]), int(rest[15 - 3])


def cpu_ticks(pid: int) -> int:
    """utime + stime."""
    return sum(proc_ticks(pid))


def io_thread_ticks(pid: int) -> dict[int, int]:
    """utime + stime of each io_uring kernel worker thread (iou-wrk-*, iou-sqp-*) of a process."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        if comm.startswith("iou-"):
            rest = s[s.rindex(")") + 2:].split()
            out[int(tid)] = int(rest[14 - 3]) + int(rest[15 - 3])
    return out


def status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def core_busy_ticks(cpu: str) -> int:
    """Busy ticks of one CPU ("": all of them) from /proc/stat: user, nice, system, irq and softirq
    (not idle, iowait, or steal, the hypervisor's time for other guests)."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:]]
                return sum(v[:7]) - v[3] - v[4]  # user..softirq, minus idle, iowait
    return 0


def read_text(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return "?"


def tcp_out_segs() -> int:
    """TCP segments the machine has sent (/proc/net/snmp OutSegs): on loopback, every segment
    any process sends, so a run's count is the client's, the proxy's and the backend's."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Tcp:")]
    if len(rows) >= 2 and "OutSegs" in rows[0]:
        return int(rows[1][rows[0].index("OutSegs")])
    return 0


def lo_bytes() -> int:
    """Bytes received on the loopback interface (all loopback traffic of the machine)."""
    with open("/proc/net/dev") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name.strip() == "lo":
                return int(rest.split()[0])
    return 0


# ---------------------------------------------------------------------------------- configs

TEMP_PATHS = """client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;"""


def make_tls(d: str) -> dict:
    """A throwaway CA and an ECDSA P-256 leaf it signs (SAN 127.0.0.1 and localhost), made with the
    openssl command. Returns the paths: ca (the CA certificate, for the clients that verify), chain
    (leaf then CA: what ssl_certificate serves, the size of a leaf + intermediate chain), key (the
    leaf's key) and pem (chain and key in one file, for HAProxy's `crt`)."""
    os.makedirs(d, exist_ok=True)
    j = lambda n: os.path.join(d, n)  # noqa: E731
    ext = j("leaf.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    steps = [
        ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", j("ca.key")],
        ["openssl", "req", "-x509", "-new", "-key", j("ca.key"), "-sha256", "-days", "7",
         "-subj", "/CN=ringway loadtest CA", "-out", j("ca.crt")],
        ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", j("leaf.key")],
        ["openssl", "req", "-new", "-key", j("leaf.key"), "-subj", "/CN=localhost", "-out", j("leaf.csr")],
        ["openssl", "x509", "-req", "-in", j("leaf.csr"), "-CA", j("ca.crt"), "-CAkey", j("ca.key"),
         "-CAcreateserial", "-days", "7", "-sha256", "-extfile", ext, "-out", j("leaf.crt")],
    ]
    for argv in steps:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:3])} failed: {r.stderr.strip()[-300:]}")
    with open(j("leaf.crt")) as a, open(j("ca.crt")) as b, open(j("leaf.key")) as k:
        leaf, ca, key = a.read(), b.read(), k.read()
    with open(j("chain.crt"), "w") as f:
        f.write(leaf + ca)
    with open(j("haproxy.pem"), "w") as f:
        f.write(leaf + ca + key)
    os.chmod(j("leaf.key"), 0o644)  # nginx's workers and ringway read it; a throwaway key
    return {"ca": j("ca.crt"), "chain": j("chain.crt"), "key": j("leaf.key"), "pem": j("haproxy.pem")}


def nginx_tls_lines(tls: dict) -> str:
    """The server-level TLS lines of the nginx proxy and the TLS backend (nginx's default ciphers)."""
    return (f"ssl_certificate {tls['chain']};\n        ssl_certificate_key {tls['key']};\n"
            f"        ssl_protocols TLSv1.2 TLSv1.3;\n        ssl_session_cache shared:SSL:10m;")


def ringway_tls_lines(tls: dict) -> str:
    """ringway's: the lines its TLS runtime takes first (no ssl_protocols: rustls has TLS 1.2 and 1.3
    only, nginx's own default from 1.23.4 on), plus RINGWAY_TLS_EXTRA."""
    return (f"ssl_certificate {tls['chain']};\n        ssl_certificate_key {tls['key']};\n"
            f"        ssl_session_cache shared:SSL:10m;" + (f"\n        {RINGWAY_TLS_EXTRA}" if RINGWAY_TLS_EXTRA else ""))


def write_backend(d: str, worker_connections: int = 8192, tls: dict | None = None) -> str:
    html = os.path.join(d, "html")
    os.makedirs(html, exist_ok=True)
    for name, size in FILES.items():
        with open(os.path.join(html, name), "wb") as f:
            f.write(os.urandom(size))
    # The static handler answers POST on an existing file with 405, after the mirror module has
    # read the whole request body; error_page turns that into 200.
    for name in ("upload", "upload_check"):
        with open(os.path.join(html, name), "w") as f:
            f.write("x\n")
    small = SMALL_BODY.decode().rstrip("\n")
    rlimit = f"worker_rlimit_nofile {worker_connections};\n" if worker_connections > 8192 else ""
    conf = f"""worker_processes 1;
daemon off;
master_process off;
{rlimit}error_log {d}/error.log error;
pid {d}/nginx.pid;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    log_not_found off;
    {TEMP_PATHS.format(d=d)}
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{BACKEND_PORT} backlog=4096;
        {f"listen 127.0.0.1:{BACKEND_TLS_PORT} ssl backlog=4096; # direct over TLS" if tls else ""}
        {nginx_tls_lines(tls) if tls else ""}
        root {html};
        location = /small {{ default_type text/plain; return 200 "{small}\\n"; }}
        location = /1m {{ default_type application/octet-stream; }}
        location = /64k {{ default_type application/octet-stream; }}
        location = /16m {{ default_type application/octet-stream; }}
        # Counts accepted connections: upstream connections opened by a proxy (fetched directly).
        location = /lt_status {{ stub_status; }}
        # Reads the whole body, then answers 200 "ok".
        location = /upload {{
            client_max_body_size 2m; client_body_buffer_size 2m;
            mirror /sink; mirror_request_body on;
            error_page 405 =200 @ok;
        }}
        # Answers at once; nginx reads and discards the body afterwards.
        location = /upload_early {{
            client_max_body_size 2m; client_body_buffer_size 2m;
            default_type text/plain; return 200 "ok\\n";
        }}
        # Reads the whole body, then answers with the body length it received (preflight check).
        location = /upload_check {{
            client_max_body_size 2m; client_body_buffer_size 2m;
            mirror /sink; mirror_request_body on;
            error_page 405 =200 @len;
        }}
        location = /sink {{ internal; return 204; }}
        location @ok {{ default_type text/plain; return 200 "ok\\n"; }}
        location @len {{ default_type text/plain; return 200 "$content_length\\n"; }}
    }}
}}
"""
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    return path


def write_nginx_proxy(d: str, port: int = NGINX_PORT, extra: str = NGINX_EXTRA, name: str = "nginx.conf",
                      worker_connections: int = 8192, server_extra: str = "", rlimit_nofile: int = 0,
                      tls: dict | None = None, http_extra: str = "", workers: int = 1, master: bool = False,
                      backend_port: int = BACKEND_PORT) -> str:
    """The nginx proxy. http_extra: lines at http level (proxy_cache_path); master: a master process
    (with `workers` worker processes, and the cache manager and loader when a cache is configured;
    `user root` when run as root, so that the workers can write the run's temporary directory)."""
    os.makedirs(d, exist_ok=True)
    rlimit_nofile = rlimit_nofile or worker_connections
    rlimit = f"worker_rlimit_nofile {rlimit_nofile};\n" if worker_connections > 8192 else ""
    user = "user root;\n" if master and os.geteuid() == 0 else ""
    conf = f"""worker_processes {workers};
daemon off;
master_process {"on" if master else "off"};
{user}{rlimit}error_log {d}/error.log error;
pid {d}/nginx.pid;
events {{ worker_connections {worker_connections}; }}
http {{
    {access_log_line(d, name.removesuffix(".conf"))}
    {TEMP_PATHS.format(d=d)}
    {http_extra}
    upstream app {{
        server 127.0.0.1:{backend_port};
        keepalive {UPSTREAM_KEEPALIVE};
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port}{" ssl" if tls else ""} backlog=4096{LISTEN_OPT};
        {nginx_tls_lines(tls) if tls else ""}
        client_max_body_size 2m;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
        {server_extra}
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Via "1.1 nginx";
            {extra}
        }}
    }}
}}
"""
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(conf)
    return path


def write_ringway(d: str, name: str = "ringway.conf", server_extra: str = "", tls: dict | None = None,
                  http_extra: str = "", extra: str = "", backend_port: int = BACKEND_PORT) -> str:
    """ringway's config. http_extra: lines at http level (proxy_cache_path); extra: in `location /`."""
    os.makedirs(d, exist_ok=True)
    log = access_log_line(d, name.removesuffix(".conf")) if ACCESS_LOG else ""
    conf = f"""events {{}}
http {{
    {log}
    {http_extra}
    upstream app {{
        server 127.0.0.1:{backend_port};
        keepalive {UPSTREAM_KEEPALIVE};
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{RINGWAY_PORT}{" ssl" if tls else ""}{LISTEN_OPT};
        {ringway_tls_lines(tls) if tls else ""}
        client_max_body_size 2m;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
        {server_extra}
        location / {{
            proxy_pass http://app;
            {extra}
        }}
    }}
}}
"""
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(conf)
    return path


def write_haproxy(d: str, name: str = "haproxy.cfg", client_timeout: str = "300s", tls: dict | None = None) -> str:
    """HAProxy as the same reverse proxy: one thread, upstream reuse, the same header work."""
    os.makedirs(d, exist_ok=True)
    conf = f"""global
    nbthread 1
    maxconn 16000
    # haproxy wants 2 fds per maxconn (32014); a process may hold 20000 here: start anyway
    # (it logs a warning and an [ALERT] about the FD limit, which the driver ignores)
    no strict-limits
    pidfile {d}/haproxy.pid
    # no log directive: no logging

defaults
    mode http
    option forwardfor
    http-reuse always
    timeout connect 5s
    timeout client {client_timeout}
    timeout server 300s
    timeout http-request {client_timeout}
    timeout http-keep-alive 300s

frontend fe
    bind 127.0.0.1:{HAPROXY_PORT}{" defer-accept" if DEFERRED else ""}{f" ssl crt {tls['pem']} ssl-min-ver TLSv1.2" if tls else ""}
    maxconn 16000
    http-request set-header X-Real-IP %[src]
    http-request set-header X-Forwarded-Proto {"https" if tls else "http"}
    http-request add-header Via "1.1 haproxy"
    default_backend app

backend app
    server app1 127.0.0.1:{BACKEND_PORT}
"""
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(conf)
    return path


LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "LT_SUMMARY requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p99_us=%d\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(99)))
end
"""


def write_lua(d: str, w: Workload) -> str:
    s = ""
    if w.close:
        s += 'wrk.headers["Connection"] = "close"\n'
    if w.method == "POST":
        s += (f'wrk.method = "POST"\n'
              f'wrk.body = string.rep("x", {w.upload})\n'
              f'wrk.headers["Content-Type"] = "application/octet-stream"\n')
    s += LUA_DONE
    path = os.path.join(d, f"{w.name}.lua")
    with open(path, "w") as f:
        f.write(s)
    return path


# ---------------------------------------------------------------------------------- checks

TLS: dict = {}  # make_tls()'s paths once a TLS workload is selected
TLS_SHIM = ""  # the compiled loadtest/tls_shim.c


class _TLSConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with SNI and certificate name TLS_SNI, verified against the run's CA."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=TLS_SNI)


def tls_context():
    import ssl
    ctx = ssl.create_default_context(cafile=TLS["ca"])
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def request(port: int, method: str, path: str, body: bytes | None = None, tls: bool = False) -> tuple[int, bytes]:
    c = (_TLSConnection("127.0.0.1", port, timeout=10, context=tls_context()) if tls
         else http.client.HTTPConnection("127.0.0.1", port, timeout=10))
    try:
        headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def preflight(port: int, file_sha: dict[str, str], tls: bool = False) -> list[str]:
    """Content checks through one target: exact bodies both ways. Returns the problems."""
    problems = []
    body = os.urandom(MIB)
    checks = [
        ("GET /small", "GET", "/small", None, lambda st, b: st == 200 and b == SMALL_BODY),
    ]
    for name, size in FILES.items():
        checks.append((f"GET /{name}", "GET", f"/{name}", None,
                       lambda st, b, size=size, sha=file_sha[name]:
                       st == 200 and len(b) == size and hashlib.sha256(b).hexdigest() == sha))
    checks += [
        ("POST 1 MiB /upload_check", "POST", "/upload_check", body,
         lambda st, b: st == 200 and b.strip() == str(MIB).encode()),
        ("POST 1 MiB /upload", "POST", "/upload", body, lambda st, b: st == 200 and b == UPLOAD_REPLY),
        ("POST 1 MiB /upload_early", "POST", "/upload_early", body,
         lambda st, b: st == 200 and b == UPLOAD_REPLY),
    ]
    for what, method, path, data, ok in checks:
        try:
            st, b = request(port, method, path, data, tls)
            if not ok(st, b):
                problems.append(f"{what}: status {st}, {len(b)} bytes"
                                + (f" {b[:60]!r}" if len(b) < 200 else ""))
        except Exception as e:  # noqa: BLE001 - any failure is a finding
            problems.append(f"{what}: {type(e).__name__}: {e}")
    return problems


# ---------------------------------------------------------------------------------- wrk

UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_wrk(text: str) -> dict:
    r: dict = {}
    m = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    r["rps"] = float(m.group(1)) if m else None
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M)
    r["p99_ms"] = float(m.group(1)) * UNITS_MS[m.group(2)] if m else None
    m = re.search(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)(\w+) read", text, re.M)
    r["requests_text"] = int(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    r["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"^LT_SUMMARY (.*)$", text, re.M)
    if m:
        kv = dict(x.split("=") for x in m.group(1).split())
        r["requests"] = int(kv["requests"])
        r["bytes"] = int(kv["bytes"])
        r["duration_s"] = int(kv["duration_us"]) / 1e6
    else:
        r["requests"] = r["requests_text"]
        r["bytes"] = None
        r["duration_s"] = None
    r["errors"] = r["socket_errors"] + r["non2xx"]
    return r


def wrk_cmd(url: str, w: Workload, lua: str, seconds: int, conns: int | None = None) -> list[str]:
    return ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{conns or w.conns}", f"-d{seconds}s",
            "--timeout", "5s", "--latency", "-s", lua, url]


def wrk_env(w: Workload, stats: str = "", resume: bool | None = None) -> dict | None:
    """wrk's environment for a TLS workload: loadtest/tls_shim.c preloaded (SNI TLS_SNI; no
    resumption unless the workload resumes; handshake counts written to `stats`)."""
    if not w.tls:
        return None
    resume = w.resume if resume is None else resume
    return dict(os.environ, LD_PRELOAD=TLS_SHIM, LT_TLS_SNI=TLS_SNI, LT_TLS_NORESUME="0" if resume else "1",
                LT_TLS_STATS=stats)


def read_tls_stats(path: str) -> dict | None:
    """The shim's line: {full, resumed, version, cipher, group}, or None when it wrote none."""
    try:
        with open(path) as f:
            text = f.read()
        os.unlink(path)
    except OSError:
        return None
    m = re.search(r"LT_TLS (.*)", text)
    if not m:
        return None
    kv = dict(x.split("=", 1) for x in m.group(1).split())
    return {"full": int(kv["full"]), "resumed": int(kv["resumed"]), "version": kv.get("version", "?"),
            "cipher": kv.get("cipher", "?"), "group": kv.get("group", "?")}


def target_url(port: int, w: Workload) -> str:
    return f"{'https' if w.tls else 'http'}://127.0.0.1:{port}{w.path}"


def check_tls(run: Run, w: Workload, st: dict | None) -> None:
    """Records the measured run's handshakes; a full-handshake workload that resumed, or a
    resumption workload that did not resume, is a problem."""
    if st is None:
        run.problems.append("TLS: wrk's shim wrote no handshake counts (wrk killed? LD_PRELOAD failed?)")
        return
    run.tls_full, run.tls_resumed = st["full"], st["resumed"]
    run.tls_params = f"{st['version']} {st['cipher']} {st['group']}"
    n = st["full"] + st["resumed"]
    if w.close and not w.resume and st["resumed"]:
        run.problems.append(f"TLS: {st['resumed']} of {n} handshakes were resumed in a full-handshake workload")
    if w.close and w.resume and n and st["resumed"] < 0.9 * n:
        run.problems.append(f"TLS: only {st['resumed']} of {n} handshakes were resumed "
                            f"({100 * st['resumed'] / n:.0f}%; the target does not resume sessions?)")
    if not w.close and n > w.conns:
        run.problems.append(f"TLS: {n} handshakes on {w.conns} keep-alive connections (the target closed connections)")


# ---------------------------------------------------------------------------------- one run

class Abort(Exception):
    pass


@dataclass
class Run:
    round: int
    workload: str
    target: str
    ok: bool = True
    rps: float | None = None
    p99_ms: float | None = None
    requests: int | None = None
    errors: int = 0
    socket_errors: int = 0
    non2xx: int = 0
    bytes_per_req: float | None = None
    lo_bytes_per_req: float | None = None
    segs_per_req: float | None = None
    cpu_s: float | None = None
    cpu_us_per_req: float | None = None
    sys_us_per_req: float | None = None
    cpu_pct: float | None = None
    backend_cpu_us_per_req: float | None = None
    core_other_pct: float | None = None
    # busy time of every CPU (proxy, load generator, backend, kernel work wherever it ran) per request
    machine_us_per_req: float | None = None
    io_wq_pct: float | None = None
    rss_mib: float | None = None
    hwm_mib: float | None = None
    problems: list[str] = field(default_factory=list)
    log: str | None = None
    exit_status: int | None = None
    # upstream connections the proxy opened (backend accepts): during the measured run / in its whole life
    upstream_run: int | None = None
    upstream_total: int | None = None
    # lat
    lat_rate: int | None = None
    p50_ms: float | None = None
    p999_ms: float | None = None
    # idle
    idle_opened: int | None = None
    idle_failed: int | None = None
    idle_open_s: float | None = None
    idle_alive: int | None = None
    idle_rss0_kib: int | None = None
    idle_rss1_kib: int | None = None
    idle_bytes_per_conn: float | None = None
    p99_no_idle_ms: float | None = None
    rps_no_idle: float | None = None
    # burst: RSS with the connections open before their requests, the burst's timing, and RSS
    # (KiB) and bytes per connection at each of BURST_SAMPLES; rss_series: (s, KiB) every 0.5 s
    burst_rss_open_kib: int | None = None
    burst_send_s: float | None = None
    burst_answer_s: float | None = None
    burst_ok: int | None = None
    burst_rss_kib: dict | None = None
    burst_bytes_per_conn: dict | None = None
    burst_hwm_kib: int | None = None
    rss_series: list | None = None
    # slowloris: figures without / with the slow clients and what the slow clients saw
    slow: dict | None = None
    # TLS: handshakes of the measured run as the client saw them, and what was negotiated
    tls_full: int | None = None
    tls_resumed: int | None = None
    tls_params: str | None = None
    # tls_hs: handshakes/s of the new-connection load next to the keep-alive one, and the keep-alive
    # load alone (rps / p99_ms are the keep-alive load's with the handshakes)
    hs_rate: float | None = None
    hs_cpu_pct_alone: float | None = None
    ka_rps_alone: float | None = None
    ka_p99_alone_ms: float | None = None
    # cache workloads (loadtest/cache.py): cache statuses seen, backend/origin requests, restart timings
    cache: dict | None = None


def check_sizes(run: Run, w: Workload, res: dict, lo_delta: int) -> None:
    n = res["requests"] or 0
    if n <= 0:
        run.problems.append("no request completed")
        return
    if res["bytes"] is not None:
        run.bytes_per_req = res["bytes"] / n
        # wrk also counts the bytes of responses still arriving when it stops: allow one partial
        # response per connection on top of the completed ones.
        per = w.resp_body + HEADER_SLACK
        lo, hi = n * w.resp_body, n * per + w.conns * per
        if not lo <= res["bytes"] <= hi:
            run.problems.append(
                f"SIZE MISMATCH: wrk read {run.bytes_per_req:.0f} bytes per response, expected "
                f"{w.resp_body}..{hi / n:.0f} (body {w.resp_body} + headers, + responses in flight at the end)")
    else:
        run.problems.append("wrk summary (bytes read) missing")
    # Loopback traffic: through a proxy the payload crosses lo twice (client<->proxy<->backend), once
    # when the proxy answers from its cache.
    # Requests still in flight at either end add to or take from it: allow one per connection.
    payload = max(w.resp_body, w.upload)
    if payload >= 64 * 1024:
        hops = 1 if run.target == "direct" or w.kind == "cache" else 2  # a cache HIT: client<->proxy only
        run.lo_bytes_per_req = lo_delta / n
        need = hops * payload * max(0, n - w.conns)
        if lo_delta < need:
            run.problems.append(
                f"SIZE MISMATCH: loopback moved {lo_delta / n / MIB:.3f} MiB per request, "
                f"expected >= {hops} MiB ({hops} hop(s) of {payload} bytes)")


def backend_accepts() -> int | None:
    """The backend's stub_status `accepts` counter (includes this request's own connection)."""
    try:
        st, b = request(BACKEND_PORT, "GET", "/lt_status")
        m = re.search(rb"server accepts handled requests\s+(\d+)", b)
        return int(m.group(1)) if st == 200 and m else None
    except Exception:  # noqa: BLE001
        return None


def target_log(target: str, w: Workload, rnd: int) -> str:
    """Where a proxy's output goes for a workload's round (each start appends)."""
    return os.path.join(LOG_DIR, f"{target}-{w.name}-r{rnd}.log")


def start_target(rnd: int, w: Workload, target: str, cfgs: dict, wait: bool = True):
    """Starts a proxy (None for direct). Returns (proc, port, logfile, env). wait=False: returns at
    once, without waiting for the port (cache_restart times the start itself)."""
    port = PROXY_PORTS[target]
    if target == "direct":
        return None, BACKEND_TLS_PORT if w.tls else port, None, None
    logfile = target_log(target, w, rnd)
    env = None
    t = "_tls" if w.tls else ""  # the TLS variant of each config (listen … ssl)
    own = cfgs.get(f"{target}:{w.name}")  # a workload's own config (the cache workloads)
    if target == "ringway":
        env = dict(os.environ, NO_COLOR="1", RINGWAY_LOG=os.environ.get("RINGWAY_LOG", "info"))
        argv = [RINGWAY_BIN, "-c", own or cfgs["ringway_slow" if w.kind == "slow" else "ringway" + t],
                "--workers", str(cfgs.get(f"ringway-workers:{w.name}", 1))]
    elif target == "nginx":
        conf = own or (cfgs["nginx_idle" + t] if w.kind == "idle" else cfgs["nginx_burst"] if w.kind == "burst" else cfgs["nginx_slow"] if w.kind == "slow" else cfgs["nginx" + t])
        argv = [NGINX, "-p", cfgs["nginx_dir"], "-c", conf, "-e", os.path.join(cfgs["nginx_dir"], "error.log")]
    elif target == "nginx-nobuf":
        argv = [NGINX, "-p", cfgs["nobuf_dir"], "-c", cfgs["nginx-nobuf" + t],
                "-e", os.path.join(cfgs["nobuf_dir"], "error.log")]
    elif target == "haproxy":
        argv = [HAPROXY, "-db", "-f", cfgs["haproxy_slow" if w.kind == "slow" else "haproxy" + t]]
    else:
        raise ValueError(target)
    wait_port_free(port)
    proc = spawn(["taskset", "-c", PROXY_CPU] + argv, logfile, env)
    if wait and not wait_port(port, proc) and proc.poll() is not None:
        # Most likely the port is briefly held by someone else: one more try.
        log(f"{target} exited at start ({proc.returncode}); retrying once in 3 s")
        stop(proc)
        time.sleep(3)
        proc = spawn(list(proc.args), logfile, env)
    return proc, port, logfile, env


def finish_target(run: Run, target: str, proc, logfile: str | None, cfgs: dict) -> None:
    """Stops a proxy and collects what its logs say."""
    if proc is None:
        return
    crashed_before = proc.poll() is not None
    st = stop(proc)
    run.exit_status = st
    # haproxy's answer to SIGTERM is an immediate stop by that signal (-15): normal
    if not crashed_before and st not in (0, None) and not (target == "haproxy" and st == -signal.SIGTERM):
        run.problems.append(f"{target} exited with status {st} when stopped (SIGTERM)")
    if target == "ringway":
        with open(logfile, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        bad = [ln for ln in text.splitlines()
               if re.search(r"\b(ERROR|WARN)\b|panicked|fatal", ln)]
        if bad:
            run.problems.append(f"ringway logged {len(bad)} warning/error line(s), first: {bad[0][:200]}")
    elif target in ("nginx", "nginx-nobuf"):
        el = os.path.join(cfgs["nginx_dir" if target == "nginx" else "nobuf_dir"], "error.log")
        if os.path.exists(el):
            with open(el, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            with open(logfile, "a") as f:
                f.write(text)
            os.unlink(el)
            bad = [ln for ln in text.splitlines() if re.search(r"\[(error|crit|alert|emerg)\]", ln)]
            if bad:
                run.problems.append(f"{target} logged {len(bad)} error line(s), first: {bad[0][:200]}")
    elif target == "haproxy":
        with open(logfile, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        bad = [ln for ln in text.splitlines() if re.search(r"\[(ALERT|EMERG)\]", ln) and "FD limit" not in ln]
        if bad:
            run.problems.append(f"haproxy logged {len(bad)} alert line(s), first: {bad[0][:200]}")


def started_ok(run: Run, target: str, proc, port: int) -> bool:
    if proc is not None and not wait_port(port, proc):
        run.ok = False
        run.problems.append(f"{target} did not start listening on {port}"
                            + (f" (exited with {proc.returncode})" if proc.poll() is not None else ""))
        return False
    return True


def measured(run: Run, w: Workload, proc, pid, backend, cmd: list[str], logname: str, parse, seconds: int,
             env: dict | None = None) -> dict:
    """Runs one measured load command, with CPU, memory and loopback accounting around it."""
    b0 = cpu_ticks(backend.pid)
    u0, s0 = proc_ticks(pid) if pid else (0, 0)
    c0 = u0 + s0
    q0 = io_thread_ticks(pid) if pid else {}
    k0 = core_busy_ticks(PROXY_CPU)
    m0 = core_busy_ticks("")
    l0 = lo_bytes()
    g0 = tcp_out_segs()
    t0 = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, env=env)
    t1 = time.monotonic()
    g1 = tcp_out_segs()
    l1 = lo_bytes()
    k1 = core_busy_ticks(PROXY_CPU)
    m1 = core_busy_ticks("")
    alive = proc is None or proc.poll() is None
    u1, s1 = proc_ticks(pid) if pid and alive else (u0, s0)
    c1 = u1 + s1
    q1 = io_thread_ticks(pid) if pid and alive else {}
    b1 = cpu_ticks(backend.pid)
    if pid and alive:
        run.rss_mib = status_kib(pid, "VmRSS") / 1024
        run.hwm_mib = status_kib(pid, "VmHWM") / 1024
    with open(os.path.join(LOG_DIR, logname), "w") as f:
        f.write(" ".join(cmd) + "\n" + out.stdout + out.stderr)
    if out.returncode != 0:
        run.problems.append(f"{os.path.basename(cmd[3])} exited with {out.returncode}: {out.stderr.strip()[-300:]}")
    res = parse(out.stdout)
    run.rps, run.p99_ms, run.requests = res["rps"], res["p99_ms"], res["requests"]
    run.errors, run.socket_errors, run.non2xx = res["errors"], res["socket_errors"], res["non2xx"]
    if run.rps is None or run.p99_ms is None:
        run.ok = False
        run.problems.append(f"could not parse the output of {os.path.basename(cmd[3])}")
    if run.errors:
        run.problems.append(f"ERRORS: {run.socket_errors} socket errors, {run.non2xx} non-2xx/3xx responses")
    if not alive:
        run.ok = False
        run.problems.append(f"CRASH: {run.target} exited with status {proc.returncode} during the run")
    check_sizes(run, w, res, l1 - l0)
    n = run.requests or 0
    elapsed = res["duration_s"] or (t1 - t0)
    if pid and alive:
        run.cpu_s = (c1 - c0) / CLK_TCK
        run.cpu_pct = 100.0 * run.cpu_s / elapsed
        if c1 > c0:
            run.io_wq_pct = 100.0 * sum(t - q0.get(tid, 0) for tid, t in q1.items()) / (c1 - c0)
        if n:
            run.cpu_us_per_req = run.cpu_s / n * 1e6
            run.sys_us_per_req = (s1 - s0) / CLK_TCK / n * 1e6
    if n:
        run.backend_cpu_us_per_req = (b1 - b0) / CLK_TCK / n * 1e6
        run.segs_per_req = (g1 - g0) / n
        run.machine_us_per_req = (m1 - m0) / CLK_TCK / n * 1e6
    run.core_other_pct = max(0.0, 100.0 * ((k1 - k0) - ((c1 - c0) if pid else 0)) / CLK_TCK / (t1 - t0))
    res["alive"] = alive
    return res


def one_run(rnd: int, w: Workload, target: str, lua: str, backend: subprocess.Popen,
            cfgs: dict, file_sha: dict, lat_rate: int | None = None) -> Run:
    run = Run(rnd, w.name, target)
    a0 = backend_accepts() if target != "direct" else None
    proc, port, logfile, env = start_target(rnd, w, target, cfgs)
    run.log = logfile
    url = target_url(port, w)
    stats = os.path.join(WORKDIR, "tls-stats")
    try:
        if not started_ok(run, target, proc, port):
            return run
        run.problems += [f"preflight: {p}" for p in preflight(port, file_sha, w.tls)]
        if WARMUP > 0:
            subprocess.run(wrk_cmd(url, w, lua, WARMUP), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=WARMUP + 30, env=wrk_env(w))
        if proc is not None and proc.poll() is not None:
            run.ok = False
            run.problems.append(f"CRASH: {target} exited with status {proc.returncode} during warm-up")
            return run
        pid = proc.pid if proc is not None else None
        a1 = backend_accepts() if a0 is not None else None
        if w.kind == "lat":
            run.lat_rate = lat_rate
            measured(run, w, proc, pid, backend, oha_cmd(url, w, lat_rate, DURATION),
                     f"oha-{w.name}-{target}-r{rnd}.txt", lambda t: parse_oha(t, run), DURATION)
        else:
            measured(run, w, proc, pid, backend, wrk_cmd(url, w, lua, DURATION),
                     f"wrk-{w.name}-{target}-r{rnd}.txt", parse_wrk, DURATION, env=wrk_env(w, stats))
            if w.tls:
                check_tls(run, w, read_tls_stats(stats))
        a2 = backend_accepts() if a1 is not None else None
        if a0 is not None and a1 is not None and a2 is not None:
            run.upstream_run = a2 - a1 - 1
            run.upstream_total = a2 - a0 - 2
        return run
    except subprocess.TimeoutExpired as e:
        run.ok = False
        run.problems.append(f"TIMEOUT: {' '.join(e.cmd[:6])}... did not finish")
        return run
    finally:
        finish_target(run, target, proc, logfile, cfgs)


# ---------------------------------------------------------------------------------- oha (lat)

def find_oha() -> str | None:
    for c in (OHA, shutil.which("oha") or "", os.path.expanduser("~/.cache/ringway-loadtest/bin/oha"),
              os.path.expanduser("~/.cargo/bin/oha")):
        if c and os.access(c, os.X_OK):
            return c
    return None


def oha_cmd(url: str, w: Workload, rate: int | None, seconds: int) -> list[str]:
    return ["taskset", "-c", LOAD_CPU, find_oha() or "oha", "-z", f"{seconds}s", "-c", str(w.conns),
            "-q", str(rate), "--latency-correction", "--no-tui", "--output-format", "json", url]


def parse_oha(text: str, run: Run) -> dict:
    r = {"rps": None, "p99_ms": None, "requests": None, "bytes": None, "duration_s": None,
         "socket_errors": 0, "non2xx": 0, "errors": 0}
    try:
        j = json.loads(text[text.index("{"):])
    except (ValueError, json.JSONDecodeError):
        return r
    s = j.get("summary", {})
    lp = j.get("latencyPercentiles", {})
    codes = {int(k): v for k, v in (j.get("statusCodeDistribution") or {}).items()}
    # requests still in flight when -z ends are "aborted due to deadline": not errors
    errs = sum(v for k, v in (j.get("errorDistribution") or {}).items() if "deadline" not in k)
    n = sum(codes.values())
    r["requests"] = n
    r["rps"] = s.get("requestsPerSec")
    r["duration_s"] = s.get("total")
    if s.get("totalData") is not None:
        r["bytes"] = s["totalData"]
        r["body_only"] = True
    for key, attr in (("p50", "p50_ms"), ("p99", "p99_ms"), ("p99.9", "p999_ms")):
        v = lp.get(key)
        if v is not None:
            setattr(run, attr, v * 1e3)
            if key == "p99":
                r["p99_ms"] = v * 1e3
    r["non2xx"] = sum(v for k, v in codes.items() if not 200 <= k < 400)
    r["socket_errors"] = errs
    r["errors"] = r["non2xx"] + errs
    return r


# ---------------------------------------------------------------------------------- idle

IDLE_CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "idle_client.py")


def open_clients(run: Run, script: str, port: int, conns: int, path: str, what: str, tls: bool = False):
    """Starts `script` (idle_client.py, burst_client.py) opening `conns` keep-alive connections
    and waits for its OPENED line; records the counts in `run`. Returns (the client process,
    whether it opened them); on failure `run` says why."""
    client = subprocess.Popen(["taskset", "-c", LOAD_CPU, sys.executable, script, str(port), str(conns),
                               path, str(len(SMALL_BODY))] + (["--tls", TLS["ca"], TLS_SNI] if tls else []),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    children.append(client)
    line = client.stdout.readline().split()  # OPENED ok failed seconds
    if len(line) < 4 or line[0] != "OPENED":
        run.ok = False
        run.problems.append(f"{what} client failed: {line} {client.stderr.read()[-300:] if client.poll() is not None else ''}")
        return client, False
    run.idle_opened, run.idle_failed, run.idle_open_s = int(line[1]), int(line[2]), float(line[3])
    if run.idle_failed:
        run.problems.append(f"{what} client: {run.idle_failed} of {conns} connections failed to open "
                            f"(first error: {' '.join(line[4:])[:200]})")
    return client, True


def idle_run(rnd: int, w: Workload, target: str, lua: str, backend: subprocess.Popen,
             cfgs: dict, file_sha: dict) -> Run:
    """RSS before/after IDLE_CONNS idle keep-alive connections; p99 of IDLE_ACTIVE active connections
    with the idle ones open, then again after they are closed."""
    run = Run(rnd, w.name, target)
    proc, port, logfile, env = start_target(rnd, w, target, cfgs)
    run.log = logfile
    url = target_url(port, w)
    client = None
    try:
        if not started_ok(run, target, proc, port):
            return run
        run.problems += [f"preflight: {p}" for p in preflight(port, file_sha, w.tls)]
        pid = proc.pid
        time.sleep(0.3)
        run.idle_rss0_kib = status_kib(pid, "VmRSS")
        client, opened = open_clients(run, IDLE_CLIENT, port, TLS_IDLE_CONNS if w.tls else IDLE_CONNS, w.path,
                                      "idle", w.tls)
        if not opened:
            return run
        # Let each proxy settle into its idle state (ringway parks connections idle for 1 s;
        # allocators hand back the pages of the opening burst) before RSS is read.
        time.sleep(IDLE_SETTLE)
        run.idle_rss1_kib = status_kib(pid, "VmRSS")
        if run.idle_opened:
            run.idle_bytes_per_conn = (run.idle_rss1_kib - run.idle_rss0_kib) * 1024 / run.idle_opened
        if WARMUP > 0:
            subprocess.run(wrk_cmd(url, w, lua, WARMUP), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=WARMUP + 30, env=wrk_env(w))
        # With the idle connections open: the main figures of this run.
        measured(run, w, proc, pid, backend, wrk_cmd(url, w, lua, DURATION),
                 f"wrk-{w.name}-{target}-r{rnd}-with-idle.txt", parse_wrk, DURATION, env=wrk_env(w))
        client.stdin.write("CHECK\n")
        client.stdin.flush()
        line = client.stdout.readline().split()  # ALIVE n
        run.idle_alive = int(line[1]) if len(line) == 2 and line[0] == "ALIVE" else None
        if run.idle_alive is not None and run.idle_alive < run.idle_opened:
            run.problems.append(f"{run.idle_opened - run.idle_alive} idle connections were closed by {target}")
        client.stdin.close()
        client.wait(30)
        children.remove(client)
        client = None
        time.sleep(1.0)
        # The same without the idle connections (same process, after they were closed).
        base = Run(rnd, w.name, target)
        if proc.poll() is None:
            measured(base, w, proc, pid, backend, wrk_cmd(url, w, lua, DURATION),
                     f"wrk-{w.name}-{target}-r{rnd}-no-idle.txt", parse_wrk, DURATION, env=wrk_env(w))
            run.p99_no_idle_ms, run.rps_no_idle = base.p99_ms, base.rps
            run.problems += [f"(without idle) {p}" for p in base.problems]
            run.errors += base.errors
        return run
    except (subprocess.TimeoutExpired, OSError, ValueError) as e:
        run.ok = False
        run.problems.append(f"idle run failed: {type(e).__name__}: {e}")
        return run
    finally:
        if client is not None:
            stop(client, grace=5.0)
        finish_target(run, target, proc, logfile, cfgs)


# ---------------------------------------------------------------------------------- tls_hs

def hs_run(rnd: int, w: Workload, target: str, luas: dict, backend: subprocess.Popen,
           cfgs: dict, file_sha: dict) -> Run:
    """tls_hs: CONNS_HS_KA keep-alive TLS connections of GET /small alone (p99, req/s), then the same
    while CONNS_HS clients make a new TLS connection with a full handshake for every request (wrk
    with the shim, `Connection: close`), both wrk on LOAD_CPU, started together for DURATION s:
    handshakes/s of the second, p99 and req/s of the first, the proxy's CPU % over both."""
    run = Run(rnd, w.name, target)
    proc, port, logfile, env = start_target(rnd, w, target, cfgs)
    run.log = logfile
    url = target_url(port, w)
    hs_w = ALL_WORKLOADS["tls_newconn"]
    stats = os.path.join(WORKDIR, "tls-stats-hs")
    hs = None
    try:
        if not started_ok(run, target, proc, port):
            return run
        run.problems += [f"preflight: {p}" for p in preflight(port, file_sha, True)]
        pid = proc.pid
        if WARMUP > 0:
            subprocess.run(wrk_cmd(url, w, luas["tls_small"], WARMUP), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=WARMUP + 30, env=wrk_env(w))
        # the keep-alive load alone
        base = Run(rnd, w.name, target)
        measured(base, w, proc, pid, backend, wrk_cmd(url, w, luas["tls_small"], DURATION),
                 f"wrk-{w.name}-{target}-r{rnd}-alone.txt", parse_wrk, DURATION, env=wrk_env(w))
        run.ka_rps_alone, run.ka_p99_alone_ms, run.hs_cpu_pct_alone = base.rps, base.p99_ms, base.cpu_pct
        run.problems += [f"(alone) {p}" for p in base.problems]
        if proc.poll() is not None:
            return run
        # both loads at once: the handshake load starts first, by a few milliseconds
        hs_cmd = wrk_cmd(url, hs_w, luas["tls_newconn"], DURATION, conns=CONNS_HS)
        hs = subprocess.Popen(hs_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=wrk_env(hs_w, stats), start_new_session=True)
        children.append(hs)
        measured(run, w, proc, pid, backend, wrk_cmd(url, w, luas["tls_small"], DURATION),
                 f"wrk-{w.name}-{target}-r{rnd}-with-hs.txt", parse_wrk, DURATION, env=wrk_env(w))
        out, _ = hs.communicate(timeout=DURATION + 30)
        children.remove(hs)
        hs = None
        with open(os.path.join(LOG_DIR, f"wrk-{w.name}-{target}-r{rnd}-handshakes.txt"), "w") as f:
            f.write(" ".join(hs_cmd) + "\n" + out)
        h = parse_wrk(out)
        st = read_tls_stats(stats)
        if h["rps"] is not None:
            run.hs_rate = h["rps"]
        if h["errors"]:
            run.problems.append(f"ERRORS (handshake load): {h['socket_errors']} socket errors, {h['non2xx']} non-2xx/3xx")
            run.errors += h["errors"]
        if st is None:
            run.problems.append("TLS: the handshake load's shim wrote no counts")
        else:
            run.tls_full, run.tls_resumed = st["full"], st["resumed"]
            run.tls_params = f"{st['version']} {st['cipher']} {st['group']}"
            if st["resumed"]:
                run.problems.append(f"TLS: {st['resumed']} handshakes of the handshake load were resumed")
        # CPU per request of both loads together (a keep-alive request and a new connection alike)
        if run.cpu_s is not None and run.requests and h["requests"]:
            run.cpu_us_per_req = run.cpu_s / (run.requests + h["requests"]) * 1e6
            run.sys_us_per_req = None
        return run
    except (subprocess.TimeoutExpired, OSError, ValueError) as e:
        run.ok = False
        run.problems.append(f"tls_hs run failed: {type(e).__name__}: {e}")
        return run
    finally:
        if hs is not None:
            stop(hs, grace=5.0)
        finish_target(run, target, proc, logfile, cfgs)


# ---------------------------------------------------------------------------------- burst

BURST_CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "burst_client.py")


def burst_per_run() -> float:
    """Seconds one burst run may take: start, opening, settling, answers, samples, stop."""
    return 5 + BURST_CONNS / 1000 + BURST_SETTLE + 10 + max(BURST_SAMPLES, default=0) + 15


def burst_run(rnd: int, w: Workload, target: str, cfgs: dict, file_sha: dict) -> Run:
    """BURST_CONNS connections opened and left quiet, then one request on every one at the same
    moment, then idle: RSS before, with the quiet connections, and BURST_SAMPLES seconds after
    the last answer arrived (every 0.5 s in rss_series)."""
    run = Run(rnd, w.name, target)
    proc, port, logfile, env = start_target(rnd, w, target, cfgs)
    run.log = logfile
    client = None
    try:
        if not started_ok(run, target, proc, port):
            return run
        run.problems += [f"preflight: {p}" for p in preflight(port, file_sha)]
        pid = proc.pid
        time.sleep(0.3)
        run.idle_rss0_kib = status_kib(pid, "VmRSS")
        client, opened = open_clients(run, BURST_CLIENT, port, BURST_CONNS, w.path, "burst")
        if not opened:
            return run
        # The quiet connections settle first (ringway parks them after 1 s).
        time.sleep(BURST_SETTLE)
        run.burst_rss_open_kib = status_kib(pid, "VmRSS")
        a1 = backend_accepts()
        c0 = cpu_ticks(pid)
        client.stdin.write("BURST\n")
        client.stdin.flush()
        line = client.stdout.readline().split()  # BURST ok failed send_s answer_s [error]
        t0 = time.monotonic()
        if len(line) < 5 or line[0] != "BURST":
            run.ok = False
            run.problems.append(f"burst client failed: {line}")
            return run
        a2 = backend_accepts()
        if a1 is not None and a2 is not None:
            run.upstream_run = a2 - a1 - 1
        run.burst_ok, failed = int(line[1]), int(line[2])
        run.burst_send_s, run.burst_answer_s = float(line[3]), float(line[4])
        run.requests = run.burst_ok
        run.errors = failed
        if failed:
            run.problems.append(f"ERRORS: {failed} of {run.idle_opened} burst requests failed "
                                f"(first: {' '.join(line[5:])[:200]})")
        run.rss_series, run.burst_rss_kib, run.burst_bytes_per_conn = [], {}, {}
        todo = sorted(BURST_SAMPLES)
        k = 0
        while todo and k < 2 * (todo[-1] + 1) and proc.poll() is None:  # bounded: every 0.5 s up to the last sample
            due = min(todo[0], 0.5 * (k + 1))
            time.sleep(max(0.0, t0 + due - time.monotonic()))
            rss = status_kib(pid, "VmRSS")
            if due == todo[0]:
                todo.pop(0)
                run.burst_rss_kib[f"{due:g}"] = rss
                if run.idle_opened:
                    run.burst_bytes_per_conn[f"{due:g}"] = (rss - run.idle_rss0_kib) * 1024 / run.idle_opened
            if due == 0.5 * (k + 1):
                run.rss_series.append((due, rss))
                k += 1
        if proc.poll() is not None:
            run.ok = False
            run.problems.append(f"CRASH: {target} exited with status {proc.returncode} after the burst")
            return run
        run.burst_hwm_kib = status_kib(pid, "VmHWM")
        run.rss_mib = status_kib(pid, "VmRSS") / 1024
        run.hwm_mib = run.burst_hwm_kib / 1024
        run.cpu_s = (cpu_ticks(pid) - c0) / CLK_TCK
        client.stdin.write("CHECK\n")
        client.stdin.flush()
        line = client.stdout.readline().split()  # ALIVE n
        run.idle_alive = int(line[1]) if len(line) == 2 and line[0] == "ALIVE" else None
        if run.idle_alive is not None and run.idle_alive < run.idle_opened:
            run.problems.append(f"{run.idle_opened - run.idle_alive} idle connections were closed by {target}")
        client.stdin.close()
        client.wait(30)
        children.remove(client)
        client = None
        return run
    except (subprocess.TimeoutExpired, OSError, ValueError) as e:
        run.ok = False
        run.problems.append(f"burst run failed: {type(e).__name__}: {e}")
        return run
    finally:
        if client is not None:
            stop(client, grace=5.0)
        finish_target(run, target, proc, logfile, cfgs)


# ---------------------------------------------------------------------------------- report

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=".1f", none="–"):
    return none if x is None else format(x, spec)


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def workload_table(w: Workload, runs: list[Run]) -> str:
    head = ("| target | req/s | p99 ms | proxy CPU µs/req | of which kernel | proxy CPU % | proxy RSS MiB | "
            "backend CPU µs/req | bytes/resp | TCP segments/req | errors (all rounds) | runs ok |")
    rows = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    meds = {}
    for t in TARGETS:
        rs = [r for r in runs if r.workload == w.name and r.target == t]
        if not rs:
            continue
        m = {k: med([getattr(r, k) for r in rs]) for k in
             ("rps", "p99_ms", "cpu_us_per_req", "sys_us_per_req", "cpu_pct", "rss_mib",
              "backend_cpu_us_per_req", "bytes_per_req", "segs_per_req")}
        meds[t] = m
        errs = sum(r.errors for r in rs)
        bad = any(p.startswith("SIZE MISMATCH") for r in rs for p in r.problems)
        ok = sum(1 for r in rs if r.ok and not r.problems)
        rows.append(
            f"| {t} | {fmt(m['rps'], ',.0f')} | {fmt(m['p99_ms'], '.2f')} | {fmt(m['cpu_us_per_req'], '.2f')} "
            f"| {fmt(m['sys_us_per_req'], '.2f')} | {fmt(m['cpu_pct'], '.0f')} | {fmt(m['rss_mib'], '.1f')} | {fmt(m['backend_cpu_us_per_req'], '.2f')} "
            f"| {fmt(m['bytes_per_req'], ',.0f')}{' **SIZE MISMATCH**' if bad else ''} "
            f"| {fmt(m['segs_per_req'], '.2f')} | {errs}{' **!**' if errs else ''} | {ok}/{len(rs)} |")
    for x, y in RATIOS:
        if x in meds and y in meds:
            a, b = meds[x], meds[y]
            rows.append(
                f"| **{x}/{y}** | **{fmt(ratio(a['rps'], b['rps']), '.2f')}×** "
                f"| {fmt(ratio(a['p99_ms'], b['p99_ms']), '.2f')}× "
                f"| **{fmt(ratio(a['cpu_us_per_req'], b['cpu_us_per_req']), '.2f')}×** "
                f"| {fmt(ratio(a['sys_us_per_req'], b['sys_us_per_req']), '.2f')}× "
                f"| | {fmt(ratio(a['rss_mib'], b['rss_mib']), '.2f')}× | | "
                f"| {fmt(ratio(a['segs_per_req'], b['segs_per_req']), '.2f')}× | | |")
    return "\n".join(rows)


RATIOS = (("ringway", "nginx"), ("ringway", "haproxy"), ("haproxy", "nginx"), ("ringway", "nginx-nobuf"))


def lat_table(w: Workload, runs: list[Run]) -> str:
    # The p99 of a run at a fixed rate swings several-fold between rounds on a shared VM: each
    # proxy's lowest and highest round are shown, and a ratio whose ranges overlap is marked.
    rows = ["| target | rate req/s | achieved req/s | p50 ms | p99 ms | p99 ms lowest–highest round | p99.9 ms "
            "| proxy CPU µs/req | errors (all rounds) | runs ok |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    meds = {}
    spans = {}
    for t in TARGETS:
        rs = [r for r in runs if r.workload == w.name and r.target == t]
        if not rs:
            continue
        m = {k: med([getattr(r, k) for r in rs]) for k in ("lat_rate", "rps", "p50_ms", "p99_ms", "p999_ms", "cpu_us_per_req")}
        meds[t] = m
        p99s = [r.p99_ms for r in rs if r.p99_ms is not None]
        spans[t] = (min(p99s), max(p99s)) if p99s else None
        span = f"{spans[t][0]:.3f}–{spans[t][1]:.3f}" if spans[t] else "–"
        ok = sum(1 for r in rs if r.ok and not r.problems)
        errs = sum(r.errors for r in rs)
        rows.append(f"| {t} | {fmt(m['lat_rate'], ',.0f')} | {fmt(m['rps'], ',.0f')} | {fmt(m['p50_ms'], '.3f')} "
                    f"| {fmt(m['p99_ms'], '.3f')} | {span} | {fmt(m['p999_ms'], '.3f')} | {fmt(m['cpu_us_per_req'], '.2f')} "
                    f"| {errs}{' **!**' if errs else ''} | {ok}/{len(rs)} |")
    for x, y in RATIOS:
        if x in meds and y in meds:
            a, b = meds[x], meds[y]
            sx, sy = spans.get(x), spans.get(y)
            overlap = "ranges overlap" if sx and sy and sx[0] <= sy[1] and sy[0] <= sx[1] else ""
            rows.append(f"| **{x}/{y}** | | | {fmt(ratio(a['p50_ms'], b['p50_ms']), '.2f')}× "
                        f"| **{fmt(ratio(a['p99_ms'], b['p99_ms']), '.2f')}×** | {overlap} "
                        f"| {fmt(ratio(a['p999_ms'], b['p999_ms']), '.2f')}× "
                        f"| **{fmt(ratio(a['cpu_us_per_req'], b['cpu_us_per_req']), '.2f')}×** | | |")
    return "\n".join(rows)


def idle_table(w: Workload, runs: list[Run]) -> str:
    rows = ["| target | idle conns open | RSS before MiB | RSS with idle MiB | **bytes per idle conn** | "
            f"req/s ({IDLE_ACTIVE} active) with idle / without | p99 ms with idle | p99 ms without idle | p99 with ÷ without | "
            "proxy CPU µs/req (with idle) | idle conns still open after | errors (all rounds) | runs ok |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    meds = {}
    for t in TARGETS:
        rs = [r for r in runs if r.workload == w.name and r.target == t]
        if not rs:
            continue
        m = {k: med([getattr(r, k) for r in rs]) for k in
             ("idle_opened", "idle_rss0_kib", "idle_rss1_kib", "idle_bytes_per_conn", "rps", "rps_no_idle",
              "p99_ms", "p99_no_idle_ms", "cpu_us_per_req", "idle_alive")}
        meds[t] = m
        ok = sum(1 for r in rs if r.ok and not r.problems)
        errs = sum(r.errors for r in rs)
        rows.append(
            f"| {t} | {fmt(m['idle_opened'], ',.0f')} | {fmt(None if m['idle_rss0_kib'] is None else m['idle_rss0_kib'] / 1024, '.1f')} "
            f"| {fmt(None if m['idle_rss1_kib'] is None else m['idle_rss1_kib'] / 1024, '.1f')} "
            f"| **{fmt(m['idle_bytes_per_conn'], ',.0f')}** | {fmt(m['rps'], ',.0f')} / {fmt(m['rps_no_idle'], ',.0f')} "
            f"| {fmt(m['p99_ms'], '.2f')} | {fmt(m['p99_no_idle_ms'], '.2f')} "
            f"| {fmt(ratio(m['p99_ms'], m['p99_no_idle_ms']), '.2f')}× | {fmt(m['cpu_us_per_req'], '.2f')} "
            f"| {fmt(m['idle_alive'], ',.0f')} | {errs}{' **!**' if errs else ''} | {ok}/{len(rs)} |")
    for x, y in RATIOS:
        if x in meds and y in meds:
            a, b = meds[x], meds[y]
            rows.append(f"| **{x}/{y}** | | | | **{fmt(ratio(a['idle_bytes_per_conn'], b['idle_bytes_per_conn']), '.2f')}×** "
                        f"| | {fmt(ratio(a['p99_ms'], b['p99_ms']), '.2f')}× | {fmt(ratio(a['p99_no_idle_ms'], b['p99_no_idle_ms']), '.2f')}× "
                        f"| | {fmt(ratio(a['cpu_us_per_req'], b['cpu_us_per_req']), '.2f')}× | | | |")
    return "\n".join(rows)


def tls_table(w: Workload, runs: list[Run]) -> str:
    """The handshakes of a TLS workload's measured runs as wrk's shim counted them (all rounds),
    what was negotiated and, for a new connection per request, CPU per handshake."""
    rows = ["| target | handshakes (all rounds): full / resumed | resumed % | handshakes/s | "
            "proxy CPU µs per handshake | proxy CPU % | handshakes/s per core (10⁶ ÷ µs per handshake) "
            "| negotiated (first handshake) |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for t in TARGETS:
        rs = [r for r in runs if r.workload == w.name and r.target == t and r.tls_full is not None]
        if not rs:
            continue
        full = sum(r.tls_full for r in rs)
        res = sum(r.tls_resumed for r in rs)
        n = full + res
        params = sorted({r.tls_params for r in rs if r.tls_params})
        cpu_pct = fmt(med([r.cpu_pct for r in rs]), '.0f')
        per_core = "–"
        if w.kind == "hs":
            hs_s, cpu = fmt(med([r.hs_rate for r in rs]), ',.0f'), "–"
        elif w.close:
            hs_s = fmt(med([r.rps for r in rs]), ',.0f')
            c = med([r.cpu_us_per_req for r in rs])
            cpu = fmt(c, '.1f')
            per_core = fmt(1e6 / c if c else None, ',.0f')
        else:
            hs_s, cpu = "(keep-alive)", "–"
        rows.append(f"| {t} | {full:,} / {res:,} | {fmt(100 * res / n if n else None, '.1f')} | {hs_s} | {cpu} "
                    f"| {cpu_pct} | {per_core} | {'; '.join(params) or '–'} |")
    return "\n".join(rows)


def hs_table(w: Workload, runs: list[Run]) -> str:
    rows = [f"| target | handshakes/s ({CONNS_HS} new-connection clients) | req/s keep-alive alone / with handshakes "
            f"| p99 ms alone | p99 ms with handshakes | **p99 with ÷ alone** | proxy CPU % alone / with "
            "| proxy CPU µs/req (both loads) | errors (all rounds) | runs ok |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    meds = {}
    for t in TARGETS:
        rs = [r for r in runs if r.workload == w.name and r.target == t]
        if not rs:
            continue
        m = {k: med([getattr(r, k) for r in rs]) for k in
             ("hs_rate", "rps", "ka_rps_alone", "p99_ms", "ka_p99_alone_ms", "cpu_pct", "hs_cpu_pct_alone",
              "cpu_us_per_req")}
        m["p99_ratio"] = med([ratio(r.p99_ms, r.ka_p99_alone_ms) for r in rs])
        meds[t] = m
        ok = sum(1 for r in rs if r.ok and not r.problems)
        errs = sum(r.errors for r in rs)
        rows.append(f"| {t} | {fmt(m['hs_rate'], ',.0f')} | {fmt(m['ka_rps_alone'], ',.0f')} / {fmt(m['rps'], ',.0f')} "
                    f"| {fmt(m['ka_p99_alone_ms'], '.2f')} | {fmt(m['p99_ms'], '.2f')} | **{fmt(m['p99_ratio'], '.2f')}×** "
                    f"| {fmt(m['hs_cpu_pct_alone'], '.0f')} / {fmt(m['cpu_pct'], '.0f')} | {fmt(m['cpu_us_per_req'], '.1f')} "
                    f"| {errs}{' **!**' if errs else ''} | {ok}/{len(rs)} |")
    for x, y in RATIOS:
        if x in meds and y in meds:
            a, b = meds[x], meds[y]
            rows.append(f"| **{x}/{y}** | **{fmt(ratio(a['hs_rate'], b['hs_rate']), '.2f')}×** | "
                        f"| {fmt(ratio(a['ka_p99_alone_ms'], b['ka_p99_alone_ms']), '.2f')}× "
                        f"| **{fmt(ratio(a['p99_ms'], b['p99_ms']), '.2f')}×** | | "
                        f"| {fmt(ratio(a['cpu_us_per_req'], b['cpu_us_per_req']), '.2f')}× | | |")
    return "\n".join(rows)


def burst_table(w: Workload, runs: list[Run]) -> str:
    ts = [f"{t:g}" for t in sorted(BURST_SAMPLES)]
    rows = ["| target | conns open | RSS before MiB | RSS quiet conns MiB | last answer after s | "
            + " | ".join(f"RSS {t} s MiB" for t in ts) + " | "
            + " | ".join(f"**bytes/conn {t} s**" for t in ts)
            + " | peak RSS MiB | upstream conns opened | conns still open | errors (all rounds) | runs ok |",
            "|---|" + "---:|" * (9 + 2 * len(ts))]
    meds = {}
    for t in TARGETS:
        rs = [r for r in runs if r.workload == w.name and r.target == t]
        if not rs:
            continue
        m = {k: med([getattr(r, k) for r in rs]) for k in
             ("idle_opened", "idle_rss0_kib", "burst_rss_open_kib", "burst_answer_s", "burst_hwm_kib", "upstream_run",
              "idle_alive")}
        for x in ts:
            m[f"rss{x}"] = med([(r.burst_rss_kib or {}).get(x) for r in rs])
            m[f"bpc{x}"] = med([(r.burst_bytes_per_conn or {}).get(x) for r in rs])
        meds[t] = m
        ok = sum(1 for r in rs if r.ok and not r.problems)
        errs = sum(r.errors for r in rs)
        mib = lambda k: fmt(None if m[k] is None else m[k] / 1024, '.1f')  # noqa: E731
        rows.append(f"| {t} | {fmt(m['idle_opened'], ',.0f')} | {mib('idle_rss0_kib')} | {mib('burst_rss_open_kib')} "
                    f"| {fmt(m['burst_answer_s'], '.2f')} | " + " | ".join(mib(f"rss{x}") for x in ts) + " | "
                    + " | ".join(f"**{fmt(m[f'bpc{x}'], ',.0f')}**" for x in ts)
                    + f" | {mib('burst_hwm_kib')} | {fmt(m['upstream_run'], ',.0f')} | {fmt(m['idle_alive'], ',.0f')} | {errs}{' **!**' if errs else ''} "
                    f"| {ok}/{len(rs)} |")
    for x, y in RATIOS:
        if x in meds and y in meds:
            a, b = meds[x], meds[y]
            rows.append(f"| **{x}/{y}** | | | | | " + " | " * (len(ts) - 1) + " | "
                        + " | ".join(f"**{fmt(ratio(a[f'bpc{t}'], b[f'bpc{t}']), '.2f')}×**" for t in ts)
                        + " | | | | | |")
    return "\n".join(rows)


def upstream_table(workloads: list[Workload], runs: list[Run]) -> str:
    """Upstream connections opened, from the backend's accepts counter."""
    ps = [t for t in TARGETS if t != "direct" and any(r.target == t and r.upstream_total is not None for r in runs)]
    if not ps:
        return "(no figures)"
    rows = ["| workload | client conns | bound (conns + 1 shard) | " + " | ".join(ps) + " |",
            "|---|---:|---:|" + "---:|" * len(ps)]
    for w in workloads:
        if w.kind in ("idle", "burst", "hs", "stampede", "restart"):
            continue
        cells = []
        for t in ps:
            rs = [r for r in runs if r.workload == w.name and r.target == t and r.upstream_total is not None]
            if not rs:
                cells.append("–")
                continue
            run_max = max(r.upstream_run for r in rs)
            tot_max = max(r.upstream_total for r in rs)
            flag = " **>**" if tot_max > w.conns + 1 else ""
            cells.append(f"{run_max:,} / {tot_max:,}{flag}")
        rows.append(f"| {w.name} | {w.conns} | {w.conns + 1} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def ceiling_table(workloads: list[Workload], runs: list[Run]) -> str:
    ps = [t for t in TARGETS if t != "direct" and any(r.target == t for r in runs)]
    rows = ["| workload | direct req/s | " + " | ".join(ps) + " |", "|---|---:|" + "---:|" * len(ps)]
    for w in workloads:
        if w.kind not in ("wrk", "cache"):
            continue
        d = med([r.rps for r in runs if r.workload == w.name and r.target == "direct"])
        cells = [fmt(ratio(med([r.rps for r in runs if r.workload == w.name and r.target == t]), d), '.2f') + "×"
                 for t in ps]
        rows.append(f"| {w.name} | {fmt(d, ',.0f')} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


SVG_COLORS = {"ringway": "#d9534f", "nginx": "#3c8d2f", "haproxy": "#2f6fb0", "nginx-nobuf": "#9bc48f"}


def svg_chart(workloads: list[Workload], runs: list[Run]) -> str:
    """Small multiples: one cell per workload and metric, one bar per proxy, each cell its own scale."""
    ps = [t for t in ("ringway", "nginx", "haproxy") if any(r.target == t for r in runs)]
    ws = [w for w in workloads if any(r.workload == w.name for r in runs)]
    metrics = (("rps", "requests/s", ",.0f"), ("cpu_us_per_req", "proxy CPU µs/request", ",.1f"))
    cw, ch, top, left, gap = 150, 170, 60, 150, 14  # a cell's second caption line sits at ch + 27
    width = left + len(ws) * cw + 20
    height = top + len(metrics) * (ch + 40) + 20
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'font-family="sans-serif" font-size="11">',
         f'<rect width="{width}" height="{height}" fill="white"/>',
         f'<text x="10" y="20" font-size="15" font-weight="bold">ringway load test: medians over rounds '
         f'(each cell has its own scale)</text>']
    for i, p in enumerate(ps):
        o.append(f'<rect x="{10 + i * 110}" y="32" width="12" height="12" fill="{SVG_COLORS[p]}"/>'
                 f'<text x="{26 + i * 110}" y="42">{p}</text>')
    import cache
    for mi, (key0, label, spec0) in enumerate(metrics):
        y0 = top + mi * (ch + 40)
        o.append(f'<text x="10" y="{y0 + ch / 2}" font-weight="bold">{label}</text>')
        for wi, w in enumerate(ws):
            x0 = left + wi * cw
            # cache_stampede and cache_restart chart their own two figures (named under the cell)
            own = cache.chart_metrics(w)
            key, spec = (own[mi][0], own[mi][2]) if own else (key0, spec0)
            vals = [med([cache.metric(r, key) for r in runs if r.workload == w.name and r.target == p]) for p in ps]
            vmax = max([v for v in vals if v] or [1])
            o.append(f'<rect x="{x0}" y="{y0}" width="{cw - gap}" height="{ch}" fill="#f6f6f6" stroke="#ccc"/>')
            o.append(f'<text x="{x0 + (cw - gap) / 2}" y="{y0 + ch + 14}" text-anchor="middle">{w.name}</text>')
            if own:
                o.append(f'<text x="{x0 + (cw - gap) / 2}" y="{y0 + ch + 27}" text-anchor="middle" '
                         f'font-style="italic">{own[mi][1]}</text>')
            bw = (cw - gap - 20) / max(1, len(ps))
            for pi, (p, v) in enumerate(zip(ps, vals)):
                bx = x0 + 10 + pi * bw
                if v is None:
                    o.append(f'<text x="{bx + bw / 2}" y="{y0 + ch - 4}" text-anchor="middle">–</text>')
                    continue
                bh = (ch - 30) * v / vmax
                o.append(f'<rect x="{bx + 2:.1f}" y="{y0 + ch - bh:.1f}" width="{bw - 4:.1f}" height="{bh:.1f}" '
                         f'fill="{SVG_COLORS[p]}"><title>{p} {w.name}: {format(v, spec)}</title></rect>')
                o.append(f'<text x="{bx + bw / 2:.1f}" y="{y0 + ch - bh - 4:.1f}" text-anchor="middle" '
                         f'font-size="9">{format(v, spec)}</text>')
    o.append("</svg>")
    return "\n".join(o)


def machine_info() -> str:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001
        rev = "?"
    nginx_v = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip()
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[:1]
    return (f"{os.cpu_count()} CPUs ({model}), kernel {os.uname().release}; ringway {rev} "
            f"({RINGWAY_BIN}); {nginx_v}; {wrk_v[0] if wrk_v else 'wrk'}")


def report(runs: list[Run], workloads: list[Workload], started: str, load_before: str, aborted: str | None,
           notes: list[str] | None = None) -> str:
    import cache
    out = ["# ringway load test", ""]
    out.append(f"- started {started}; {machine_info()}")
    out.append(f"- ROUNDS={ROUNDS} DURATION={DURATION}s WARMUP={WARMUP}s; proxy on CPU {PROXY_CPU}, "
               f"wrk and backend nginx on CPU {LOAD_CPU}; one worker each; wrk -t1")
    with open("/proc/loadavg") as f:
        out.append(f"- load average before: {load_before}; after: {' '.join(f.read().split()[:3])}")
    cc = read_text("/proc/sys/net/ipv4/tcp_congestion_control")
    qdisc = read_text("/proc/sys/net/core/default_qdisc")
    out.append(f"- TCP congestion control {cc}, default qdisc {qdisc} (lo has none: BBR then paces in TCP "
               "itself, see tuning/README.md)" if cc == "bbr" else f"- TCP congestion control {cc}, default qdisc {qdisc}")
    mtu = read_text("/sys/class/net/lo/mtu")
    out.append(f"- loopback MTU {mtu}" + ("" if mtu == "65536" else " (not loopback's default: `LO_MTU`)"))
    others = med([r.core_other_pct for r in runs])
    out.append(f"- median non-proxy busy time on CPU {PROXY_CPU} during runs: {fmt(others, '.0f')}% "
               "(other processes, kernel softirq work; high values mean disturbed figures)"
               + (" — **figures disturbed: something else was using the proxy's CPU**"
                  if others is not None and others > 25 else ""))
    out.append("- figures are medians over rounds; ratios are x ÷ y (CPU µs/req below 1 = x "
               "cheaper; req/s above 1 = x faster)")
    if any(r.target == "haproxy" for r in runs):
        hv = subprocess.run([HAPROXY, "-v"], capture_output=True, text=True).stdout.splitlines()[:1]
        out.append(f"- {hv[0] if hv else 'haproxy'}: nbthread 1, http-reuse always (see loadtest/README.md)")
    if any(r.target == "nginx-nobuf" for r in runs):
        out.append("- nginx-nobuf: the nginx proxy with `proxy_buffering off; proxy_request_buffering off;`")
    if DEFERRED:
        out.append("- DEFERRED=1: every proxy's listener defers accept until the first bytes "
                   "(`listen … deferred`; HAProxy `defer-accept`)")
    for n in notes or []:
        out.append(f"- {n}")
    if aborted:
        out.append(f"- **run stopped early: {aborted}**")
    own = [f"{w.name}: {' and '.join(m[1] for m in cache.chart_metrics(w))}" for w in workloads
           if cache.chart_metrics(w) and any(r.workload == w.name for r in runs)]
    out.append("- chart: [report.svg](report.svg) (requests/s and proxy CPU µs/request by workload"
               + (f"; {'; '.join(own)}" if own else "") + ")")
    out.append("")
    for w in workloads:
        if not any(r.workload == w.name for r in runs):
            continue
        out.append(f"## {w.name}: {w.what}")
        out.append("")
        if w.kind == "slow":
            import slowloris
            out.append(slowloris.slow_table(w, runs))
        elif w.kind in CACHE_KINDS:
            import cache
            out.append(cache.table(w, runs))
        else:
            out.append(lat_table(w, runs) if w.kind == "lat" else idle_table(w, runs) if w.kind == "idle"
                       else burst_table(w, runs) if w.kind == "burst" else hs_table(w, runs) if w.kind == "hs"
                       else workload_table(w, runs))
            if w.tls and w.kind in ("wrk", "hs") and any(r.workload == w.name and r.tls_full is not None for r in runs):
                out.append("")
                out.append("TLS handshakes of the measured runs, as wrk's client counted them "
                           + ("(the new-connection load):" if w.kind == "hs" else "(loadtest/tls_shim.c):"))
                out.append("")
                out.append(tls_table(w, runs))
        out.append("")
    if any(r.upstream_total is not None for r in runs):
        out.append("## Upstream connections opened")
        out.append("")
        out.append("Connections the backend accepted from each proxy (backend nginx `stub_status` accepts), max over "
                   "rounds: during the measured run / over the proxy's whole life (preflight, warm-up and run). "
                   "The issue's bound for keep-alive runs is client concurrency + shard count (ringway --workers 1: "
                   "1 shard); **>** marks a figure above it (a pool smaller than the client concurrency, see UPSTREAM_KEEPALIVE, "
                   "and newconn are expected to exceed it).")
        out.append("")
        out.append(upstream_table(workloads, runs))
        out.append("")
    if any(r.target == "direct" for r in runs):
        out.append("## Fraction of the no-proxy ceiling")
        out.append("")
        out.append("Each proxy's median req/s ÷ direct's (the backend alone, no proxy hop) for the same workload.")
        out.append("")
        out.append(ceiling_table(workloads, runs))
        out.append("")
    problems = [(r, p) for r in runs for p in r.problems]
    out.append("## Problems")
    out.append("")
    if not problems:
        out.append("None: no errors, no crashes, all sizes as expected, all preflight checks passed.")
    for r, p in problems:
        out.append(f"- round {r.round} {r.workload} {r.target}: {p}")
    crashed = [r for r in runs if r.target == "ringway" and r.log and any(
        p.startswith(("CRASH", "ringway logged", "ringway exited", "ringway did not", "idle run failed",
                      "burst run failed"))
        for p in r.problems)]
    for r in crashed[:3]:
        out.append("")
        out.append(f"ringway stderr tail (round {r.round}, {r.workload}, {os.path.relpath(r.log, ROOT)}):")
        out.append("")
        out.append("```")
        out.append(tail(r.log, 25))
        out.append("```")
    out.append("")
    out.append("## All runs")
    out.append("")
    out.append("| round | workload | target | req/s | p99 ms | requests | errors | CPU s | CPU µs/req | CPU % | "
               "io-wq % | RSS MiB | HWM MiB | bytes/resp | lo MiB/req | CPU" + PROXY_CPU + " other % | machine CPU µs/req |")
    out.append("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        out.append(
            f"| {r.round} | {r.workload} | {r.target} | {fmt(r.rps, ',.0f')} | {fmt(r.p99_ms, '.2f')} "
            f"| {fmt(r.requests, ',')} | {r.errors} | {fmt(r.cpu_s, '.2f')} | {fmt(r.cpu_us_per_req, '.2f')} "
            f"| {fmt(r.cpu_pct, '.0f')} | {fmt(r.io_wq_pct, '.0f')} | {fmt(r.rss_mib, '.1f')} | {fmt(r.hwm_mib, '.1f')} "
            f"| {fmt(r.bytes_per_req, ',.0f')} | {fmt(None if r.lo_bytes_per_req is None else r.lo_bytes_per_req / MIB, '.3f')} "
            f"| {fmt(r.core_other_pct, '.0f')} | {fmt(r.machine_us_per_req, '.1f')} |")
    out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------------- main

def main() -> int:
    import slowloris  # here, not at the top: it imports this module
    import cache
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    names = [x for n in WORKLOADS for x in ALIASES.get(n, n).split()]
    unknown = [n for n in names if n not in ALL_WORKLOADS]
    if unknown:
        print(f"unknown workload(s) {unknown}; known: {list(ALL_WORKLOADS)} or {list(ALIASES)}", file=sys.stderr)
        return 1
    unknown = [p for p in PROXIES if p not in ("ringway", "nginx", "haproxy")]
    if unknown:
        print(f"unknown proxies {unknown} in PROXIES; known: ringway nginx haproxy", file=sys.stderr)
        return 1
    notes: list[str] = []
    if "haproxy" in PROXIES and not shutil.which(HAPROXY):
        PROXIES.remove("haproxy")
        notes.append("haproxy: not installed, left out")
    names = list(dict.fromkeys(names))  # no duplicates
    if "lat" in names and not LAT_RATE:
        if not find_oha():
            names.remove("lat")
            notes.append("lat: **skipped**: no `oha` (not in PATH, OHA_BIN or ~/.cache/ringway-loadtest/bin; "
                         "loadtest/run installs it with `cargo install oha` when LAT_INSTALL=1) and wrk2 is not "
                         "packaged in Debian")
        elif "small" not in names[:names.index("lat")]:
            if "small" in names:
                names.remove("small")
            names.insert(names.index("lat"), "small")
            notes.append("lat needs nginx's `small` req/s of the same run: `small` was added before it")
    elif "lat" in names and not find_oha():
        names.remove("lat")
        notes.append("lat: **skipped**: no `oha`")
    workloads = [ALL_WORKLOADS[n] for n in names]
    ports = [BACKEND_PORT] + [PROXY_PORTS[p] for p in PROXIES] + (
        [NGINX_NOBUF_PORT] if "nginx" in PROXIES and NGINX_NOBUF != "0" else [])
    for p in ports:
        if not port_free(p):
            print(f"port {p} on 127.0.0.1 is in use (set BACKEND_PORT/RINGWAY_PORT/NGINX_PORT/HAPROXY_PORT/"
                  "NGINX_NOBUF_PORT)", file=sys.stderr)
            return 1
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo_port, hi_port = (int(x) for x in f.read().split())
        inside = [p for p in ports if lo_port <= p <= hi_port]
        if inside:
            log(f"WARNING: port(s) {inside} lie in the ephemeral range {lo_port}-{hi_port}: an outgoing "
                "connection may hold one when a proxy restarts (bind: address in use)")
    except (OSError, ValueError):
        pass
    os.makedirs(LOG_DIR, exist_ok=True)
    for name in os.listdir(LOG_DIR):
        os.unlink(os.path.join(LOG_DIR, name))
    os.makedirs(WORKDIR, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    with open("/proc/loadavg") as f:
        load_before = " ".join(f.read().split()[:3])

    backend_dir = os.path.join(WORKDIR, "backend")
    os.makedirs(backend_dir, exist_ok=True)
    tls = None
    if any(w.tls for w in workloads):
        global TLS_SHIM
        try:
            tls = make_tls(os.path.join(WORKDIR, "tls"))
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            print(f"cannot make the TLS certificates: {e}", file=sys.stderr)
            return 1
        TLS.update(tls)
        TLS_SHIM = os.path.join(WORKDIR, "tls_shim.so")
        cc = subprocess.run([ENV.get("CC", "cc"), "-shared", "-fPIC", "-O2", "-o", TLS_SHIM,
                             os.path.join(ROOT, "loadtest", "tls_shim.c"), "-ldl"], capture_output=True, text=True)
        if cc.returncode != 0:
            print(f"cannot build loadtest/tls_shim.c: {cc.stderr[-500:]}", file=sys.stderr)
            return 1
        if not port_free(BACKEND_TLS_PORT):
            print(f"port {BACKEND_TLS_PORT} on 127.0.0.1 is in use (set BACKEND_TLS_PORT)", file=sys.stderr)
            return 1
    cfgs = {
        # burst: a proxy may open an upstream connection per client connection at once
        "backend": write_backend(backend_dir, 20000 if any(ALL_WORKLOADS[n].kind == "burst" for n in names) else 8192,
                                 tls=tls),
        "nginx_dir": os.path.join(WORKDIR, "nginx-proxy"),
        "ringway": write_ringway(os.path.join(WORKDIR, "ringway")),
    }
    cfgs["nginx"] = write_nginx_proxy(cfgs["nginx_dir"])
    # idle: room for IDLE_CONNS + IDLE_ACTIVE client connections and the upstream ones
    cfgs["nginx_idle"] = write_nginx_proxy(cfgs["nginx_dir"], name="nginx-idle.conf", worker_connections=20000)
    # burst: nginx closes idle keep-alive connections (those whose request it has not read yet
    # included: the client gets a reset) once fewer than 1/16 of worker_connections are free. The
    # burst takes ~10,000 client and ~9,000 upstream connections; with 30,000 the open-files limit
    # (20,000) is reached before that, as for ringway.
    cfgs["nginx_burst"] = write_nginx_proxy(cfgs["nginx_dir"], name="nginx-burst.conf", worker_connections=30000,
                                            rlimit_nofile=20000)
    cfgs["nobuf_dir"] = os.path.join(WORKDIR, "nginx-nobuf")
    cfgs["nginx-nobuf"] = write_nginx_proxy(cfgs["nobuf_dir"], port=NGINX_NOBUF_PORT,
                                            extra=NGINX_EXTRA + " proxy_buffering off; proxy_request_buffering off;")
    cfgs["haproxy"] = write_haproxy(os.path.join(WORKDIR, "haproxy"))
    if tls:
        # The same proxies terminating TLS: `listen … ssl` and the ssl_* lines (see make_tls).
        cfgs["ringway_tls"] = write_ringway(os.path.join(WORKDIR, "ringway"), name="ringway-tls.conf", tls=tls)
        cfgs["nginx_tls"] = write_nginx_proxy(cfgs["nginx_dir"], name="nginx-tls.conf", tls=tls)
        cfgs["nginx_idle_tls"] = write_nginx_proxy(cfgs["nginx_dir"], name="nginx-idle-tls.conf",
                                                   worker_connections=20000, tls=tls)
        cfgs["nginx-nobuf_tls"] = write_nginx_proxy(cfgs["nobuf_dir"], port=NGINX_NOBUF_PORT, name="nginx-tls.conf",
                                                    extra=NGINX_EXTRA + " proxy_buffering off; proxy_request_buffering off;",
                                                    tls=tls)
        cfgs["haproxy_tls"] = write_haproxy(os.path.join(WORKDIR, "haproxy"), name="haproxy-tls.cfg", tls=tls)
    if any(ALL_WORKLOADS[n].kind == "slow" for n in names):
        cfgs.update(slowloris.write_configs(cfgs))
    cache_ws = [ALL_WORKLOADS[n] for n in names if ALL_WORKLOADS[n].kind in CACHE_KINDS]
    if cache_ws:
        problem = cache.prepare(cache_ws, cfgs, has_ringway="ringway" in PROXIES)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        notes += cache.notes(cache_ws)
    file_sha = {}
    for name in FILES:
        with open(os.path.join(backend_dir, "html", name), "rb") as f:
            file_sha[name] = hashlib.sha256(f.read()).hexdigest()
    luas = {w.name: write_lua(WORKDIR, w) for w in workloads}
    if any(w.kind == "hs" for w in workloads):  # tls_hs runs the loads of these two
        for n in ("tls_small", "tls_newconn"):
            luas.setdefault(n, write_lua(WORKDIR, ALL_WORKLOADS[n]))

    has_rw = "ringway" in PROXIES
    checks = [("ringway", [RINGWAY_BIN, "-t", "-c", cfgs["ringway"]] if has_rw else ["true"])]
    if tls:
        checks += [("ringway (TLS)", [RINGWAY_BIN, "-t", "-c", cfgs["ringway_tls"]] if has_rw else ["true"]),
                   ("nginx proxy (TLS)", [NGINX, "-t", "-p", cfgs["nginx_dir"], "-c", cfgs["nginx_tls"], "-e", "/dev/stderr"]),
                   ("nginx proxy (TLS idle)", [NGINX, "-t", "-p", cfgs["nginx_dir"], "-c", cfgs["nginx_idle_tls"], "-e", "/dev/stderr"]),
                   ("nginx-nobuf proxy (TLS)", [NGINX, "-t", "-p", cfgs["nobuf_dir"], "-c", cfgs["nginx-nobuf_tls"], "-e", "/dev/stderr"]),
                   ("haproxy (TLS)", [HAPROXY, "-c", "-f", cfgs["haproxy_tls"]] if "haproxy" in PROXIES else ["true"])]
    for what, argv in checks + [
                       ("nginx proxy", [NGINX, "-t", "-p", cfgs["nginx_dir"], "-c", cfgs["nginx"], "-e", "/dev/stderr"]),
                       ("nginx proxy (idle)", [NGINX, "-t", "-p", cfgs["nginx_dir"], "-c", cfgs["nginx_idle"], "-e", "/dev/stderr"]),
                       ("nginx proxy (burst)", [NGINX, "-t", "-p", cfgs["nginx_dir"], "-c", cfgs["nginx_burst"], "-e", "/dev/stderr"]),
                       ("nginx-nobuf proxy", [NGINX, "-t", "-p", cfgs["nobuf_dir"], "-c", cfgs["nginx-nobuf"], "-e", "/dev/stderr"]),
                       ("haproxy", [HAPROXY, "-c", "-f", cfgs["haproxy"]] if "haproxy" in PROXIES else ["true"]),
                       ("ringway (slowloris)", [RINGWAY_BIN, "-t", "-c", cfgs["ringway_slow"]] if "ringway_slow" in cfgs and has_rw else ["true"]),
                       ("nginx proxy (slowloris)", [NGINX, "-t", "-p", cfgs["nginx_dir"], "-c", cfgs["nginx_slow"], "-e", "/dev/stderr"]
                        if "nginx_slow" in cfgs else ["true"]),
                       ("haproxy (slowloris)", [HAPROXY, "-c", "-f", cfgs["haproxy_slow"]]
                        if "haproxy_slow" in cfgs and "haproxy" in PROXIES else ["true"]),
                       ("nginx backend", [NGINX, "-t", "-p", backend_dir, "-c", cfgs["backend"], "-e", "/dev/stderr"])]:
        t = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if what == "haproxy" and t.returncode == 0 and "WARNING" in t.stdout + t.stderr:
            notes.append("haproxy -c: " + " ".join((t.stdout + t.stderr).split())[:300])
        if t.returncode != 0:
            print(f"{what} rejects its configuration:\n{t.stdout}{t.stderr}", file=sys.stderr)
            return 1

    runs: list[Run] = []
    aborted = None
    try:
        backend = spawn(["taskset", "-c", LOAD_CPU, NGINX, "-p", backend_dir, "-c", cfgs["backend"],
                         "-e", os.path.join(backend_dir, "error.log")], os.path.join(LOG_DIR, "backend.log"))
        if not wait_port(BACKEND_PORT, backend):
            print(f"backend nginx did not start:\n{tail(os.path.join(LOG_DIR, 'backend.log'))}", file=sys.stderr)
            return 1
        problems = preflight(BACKEND_PORT, file_sha)
        if problems:
            print("backend preflight failed: " + "; ".join(problems), file=sys.stderr)
            return 1
        log(f"backend up on 127.0.0.1:{BACKEND_PORT} (pid {backend.pid})")
        lat_rate = LAT_RATE or None
        for rnd in range(1, ROUNDS + 1):
            for w in workloads:
                per_run = (2 * DURATION + WARMUP + 25 + (15 if w.tls else 0) if w.kind == "idle"
                           else 2 * DURATION + WARMUP + 10 if w.kind == "hs" else slowloris.per_run() if w.kind == "slow"
                           else burst_per_run() if w.kind == "burst" else cache.per_run(w) if w.kind in CACHE_KINDS
                           else DURATION + WARMUP + 5)
                if w.kind == "lat" and lat_rate is None:
                    ref = "nginx" if "nginx" in PROXIES else "direct"
                    base = med([r.rps for r in runs if r.workload == "small" and r.target == ref])
                    if base is None:
                        notes.append("lat: **skipped**: no `small` req/s to derive the rate from")
                        continue
                    lat_rate = max(1, int(base / 2))
                    notes.append(f"lat: fixed rate {lat_rate} req/s = half of {ref}'s median `small` req/s "
                                 f"({base:,.0f}) from the rounds before it")
                # Alternate which proxy goes first so drift does not favour one of them.
                for target in targets_for(w, rnd):
                    if BUDGET and time.monotonic() - START + per_run > BUDGET - 15:
                        aborted = "time budget exhausted"
                        raise Abort
                    if backend.poll() is not None:
                        aborted = f"backend nginx exited ({backend.returncode})"
                        raise Abort
                    if w.kind == "idle":
                        r = idle_run(rnd, w, target, luas[w.name], backend, cfgs, file_sha)
                    elif w.kind == "burst":
                        r = burst_run(rnd, w, target, cfgs, file_sha)
                    elif w.kind == "hs":
                        r = hs_run(rnd, w, target, luas, backend, cfgs, file_sha)
                    elif w.kind == "slow":
                        r = slowloris.slow_run(rnd, w, target, luas[w.name], backend, cfgs, file_sha)
                    elif w.kind in CACHE_KINDS:
                        r = cache.run(rnd, w, target, luas.get(w.name, ""), backend, cfgs, file_sha)
                    else:
                        r = one_run(rnd, w, target, luas[w.name], backend, cfgs, file_sha, lat_rate)
                    runs.append(r)
                    extra = ""
                    if r.upstream_total is not None:
                        extra += f", upstream conns {r.upstream_run}/{r.upstream_total}"
                    if w.kind == "lat":
                        extra += f", p50 {fmt(r.p50_ms, '.2f')} p99.9 {fmt(r.p999_ms, '.2f')} ms"
                    if w.kind == "slow" and r.slow:
                        extra += ", " + slowloris.summary(r)
                    if r.cache and cache.summary(r):
                        extra += ", " + cache.summary(r)
                    if w.kind == "burst":
                        extra += (f", {r.idle_opened} conns ({fmt(r.idle_open_s, '.1f')} s), answered in "
                                  f"{fmt(r.burst_answer_s, '.2f')} s, {fmt(r.upstream_run, ',.0f')} upstream conns, B/conn "
                                  + " ".join(f"{k}s:{v:,.0f}" for k, v in (r.burst_bytes_per_conn or {}).items()))
                    if w.kind == "hs":
                        extra += (f", {fmt(r.hs_rate, ',.0f')} handshakes/s, keep-alive alone "
                                  f"{fmt(r.ka_rps_alone, ',.0f')} req/s p99 {fmt(r.ka_p99_alone_ms, '.2f')} ms")
                    if r.tls_full is not None:
                        extra += f", TLS handshakes full {r.tls_full} resumed {r.tls_resumed} ({r.tls_params})"
                    if w.kind == "idle":
                        extra += (f", idle {r.idle_opened} ({fmt(r.idle_open_s, '.1f')} s) "
                                  f"{fmt(r.idle_bytes_per_conn, ',.0f')} B/conn, p99 without idle "
                                  f"{fmt(r.p99_no_idle_ms, '.2f')} ms")
                    log(f"round {rnd} {w.name:8} {target:11}: {fmt(r.rps, ',.0f')} req/s, p99 {fmt(r.p99_ms, '.2f')} ms, "
                        f"CPU {fmt(r.cpu_us_per_req, '.2f')} µs/req, RSS {fmt(r.rss_mib, '.1f')} MiB, "
                        f"errors {r.errors}{extra}" + (f"  !! {'; '.join(r.problems)}" if r.problems else ""))
                    with open(os.path.join(OUT_DIR, "runs.jsonl"), "a" if len(runs) > 1 else "w") as f:
                        f.write(json.dumps(r.__dict__) + "\n")
    except Abort:
        log(f"stopping early: {aborted}")
    finally:
        stop_all()
    text = report(runs, workloads, started, load_before, aborted, notes)
    with open(os.path.join(OUT_DIR, "report.svg"), "w") as f:
        f.write(svg_chart(workloads, runs))
    with open(os.path.join(OUT_DIR, "report.md"), "w") as f:
        f.write(text)
    print(text)
    log(f"report written to {os.path.relpath(os.path.join(OUT_DIR, 'report.md'), os.getcwd())}")
    anomalies = aborted or any(r.problems or not r.ok for r in runs)
    return 2 if anomalies else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        stop_all()
