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
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------------- settings

ENV = os.environ
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = int(ENV.get("ROUNDS", "3"))
DURATION = int(ENV.get("DURATION", "5"))
WARMUP = int(ENV.get("WARMUP", "1"))
BUDGET = int(ENV.get("BUDGET", "0")) or None
WORKLOADS = ENV.get("WORKLOADS", "small 1m upload").split()
BACKEND_PORT = int(ENV.get("BACKEND_PORT", "28080"))
RINGWAY_PORT = int(ENV.get("RINGWAY_PORT", "28081"))
NGINX_PORT = int(ENV.get("NGINX_PORT", "28082"))
PROXY_CPU = ENV.get("PROXY_CPU", "0")
LOAD_CPU = ENV.get("LOAD_CPU", "1")
CONNS_SMALL = int(ENV.get("CONNS_SMALL", "64"))
CONNS_LARGE = int(ENV.get("CONNS_LARGE", "16"))
NGINX_EXTRA = ENV.get("NGINX_EXTRA", "")
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
}

TARGETS = ("ringway", "nginx", "direct")

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

def cpu_ticks(pid: int) -> int:
    """utime + stime (fields 14 and 15 of /proc/PID/stat), all threads of the process."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()  # rest[0] is field 3 (state)
    return int(rest[14 - 3]) + int(rest[15 - 3])


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
    """Busy ticks of one CPU from /proc/stat (everything but idle and iowait)."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:]]
                return sum(v[:8]) - v[3] - v[4]  # user..steal, minus idle, iowait
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


def write_backend(d: str) -> str:
    html = os.path.join(d, "html")
    os.makedirs(html, exist_ok=True)
    with open(os.path.join(html, "1m"), "wb") as f:
        f.write(os.urandom(MIB))
    # The static handler answers POST on an existing file with 405, after the mirror module has
    # read the whole request body; error_page turns that into 200.
    for name in ("upload", "upload_check"):
        with open(os.path.join(html, name), "w") as f:
            f.write("x\n")
    small = SMALL_BODY.decode().rstrip("\n")
    conf = f"""worker_processes 1;
daemon off;
master_process off;
error_log {d}/error.log error;
pid {d}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    log_not_found off;
    {TEMP_PATHS.format(d=d)}
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{BACKEND_PORT} backlog=4096;
        root {html};
        location = /small {{ default_type text/plain; return 200 "{small}\\n"; }}
        location = /1m {{ default_type application/octet-stream; }}
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


def write_nginx_proxy(d: str) -> str:
    os.makedirs(d, exist_ok=True)
    conf = f"""worker_processes 1;
daemon off;
master_process off;
error_log {d}/error.log error;
pid {d}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    {TEMP_PATHS.format(d=d)}
    upstream app {{
        server 127.0.0.1:{BACKEND_PORT};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{NGINX_PORT} backlog=4096;
        client_max_body_size 2m;
        keepalive_requests 1000000;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Via "1.1 nginx";
            {NGINX_EXTRA}
        }}
    }}
}}
"""
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    return path


def write_ringway(d: str) -> str:
    os.makedirs(d, exist_ok=True)
    conf = f"""events {{}}
http {{
    upstream app {{
        server 127.0.0.1:{BACKEND_PORT};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{RINGWAY_PORT};
        client_max_body_size 2m;
        keepalive_requests 1000000;
        location / {{
            proxy_pass http://app;
        }}
    }}
}}
"""
    path = os.path.join(d, "ringway.conf")
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

def request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def preflight(port: int, file_sha: str) -> list[str]:
    """Content checks through one target: exact bodies both ways. Returns the problems."""
    problems = []
    body = os.urandom(MIB)
    checks = [
        ("GET /small", "GET", "/small", None, lambda st, b: st == 200 and b == SMALL_BODY),
        ("GET /1m", "GET", "/1m", None,
         lambda st, b: st == 200 and len(b) == MIB and hashlib.sha256(b).hexdigest() == file_sha),
        ("POST 1 MiB /upload_check", "POST", "/upload_check", body,
         lambda st, b: st == 200 and b.strip() == str(MIB).encode()),
        ("POST 1 MiB /upload", "POST", "/upload", body, lambda st, b: st == 200 and b == UPLOAD_REPLY),
        ("POST 1 MiB /upload_early", "POST", "/upload_early", body,
         lambda st, b: st == 200 and b == UPLOAD_REPLY),
    ]
    for what, method, path, data, ok in checks:
        try:
            st, b = request(port, method, path, data)
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


def wrk_cmd(url: str, w: Workload, lua: str, seconds: int) -> list[str]:
    return ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{w.conns}", f"-d{seconds}s",
            "--timeout", "5s", "--latency", "-s", lua, url]


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
    cpu_s: float | None = None
    cpu_us_per_req: float | None = None
    cpu_pct: float | None = None
    backend_cpu_us_per_req: float | None = None
    core_other_pct: float | None = None
    io_wq_pct: float | None = None
    rss_mib: float | None = None
    hwm_mib: float | None = None
    problems: list[str] = field(default_factory=list)
    log: str | None = None
    exit_status: int | None = None


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
    # Loopback traffic: through a proxy the payload crosses lo twice (client<->proxy<->backend).
    # Requests still in flight at either end add to or take from it: allow one per connection.
    payload = max(w.resp_body, w.upload)
    if payload >= 64 * 1024:
        hops = 1 if run.target == "direct" else 2
        run.lo_bytes_per_req = lo_delta / n
        need = hops * payload * max(0, n - w.conns)
        if lo_delta < need:
            run.problems.append(
                f"SIZE MISMATCH: loopback moved {lo_delta / n / MIB:.3f} MiB per request, "
                f"expected >= {hops} MiB ({hops} hop(s) of {payload} bytes)")


def one_run(rnd: int, w: Workload, target: str, lua: str, backend: subprocess.Popen,
            cfgs: dict, file_sha: str) -> Run:
    run = Run(rnd, w.name, target)
    proc = None
    logfile = None
    env = None
    if target == "ringway":
        port = RINGWAY_PORT
        logfile = os.path.join(LOG_DIR, f"ringway-{w.name}-r{rnd}.log")
        env = dict(os.environ, NO_COLOR="1", RINGWAY_LOG=os.environ.get("RINGWAY_LOG", "info"))
        wait_port_free(port)
        proc = spawn(["taskset", "-c", PROXY_CPU, RINGWAY_BIN, "-c", cfgs["ringway"], "--workers", "1"],
                     logfile, env)
    elif target == "nginx":
        port = NGINX_PORT
        logfile = os.path.join(LOG_DIR, f"nginx-{w.name}-r{rnd}.log")
        wait_port_free(port)
        proc = spawn(["taskset", "-c", PROXY_CPU, NGINX, "-p", cfgs["nginx_dir"], "-c", cfgs["nginx"],
                      "-e", os.path.join(cfgs["nginx_dir"], "error.log")], logfile)
    else:
        port = BACKEND_PORT
    run.log = logfile
    url = f"http://127.0.0.1:{port}{w.path}"
    try:
        if proc is not None and not wait_port(port, proc) and proc.poll() is not None:
            # Most likely the port is briefly held by someone else: one more try.
            log(f"{target} exited at start ({proc.returncode}); retrying once in 3 s")
            stop(proc)
            time.sleep(3)
            proc = spawn(list(proc.args), logfile, env if target == "ringway" else None)
        if proc is not None and not wait_port(port, proc):
            run.ok = False
            run.problems.append(f"{target} did not start listening on {port}"
                                + (f" (exited with {proc.returncode})" if proc.poll() is not None else ""))
            return run
        run.problems += [f"preflight: {p}" for p in preflight(port, file_sha)]
        if WARMUP > 0:
            subprocess.run(wrk_cmd(url, w, lua, WARMUP), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=WARMUP + 30)
        if proc is not None and proc.poll() is not None:
            run.ok = False
            run.problems.append(f"CRASH: {target} exited with status {proc.returncode} during warm-up")
            return run
        pid = proc.pid if proc is not None else None
        b0 = cpu_ticks(backend.pid)
        c0 = cpu_ticks(pid) if pid else 0
        q0 = io_thread_ticks(pid) if pid else {}
        k0 = core_busy_ticks(PROXY_CPU)
        l0 = lo_bytes()
        t0 = time.monotonic()
        out = subprocess.run(wrk_cmd(url, w, lua, DURATION), capture_output=True, text=True,
                             timeout=DURATION + 30)
        t1 = time.monotonic()
        l1 = lo_bytes()
        k1 = core_busy_ticks(PROXY_CPU)
        alive = proc is None or proc.poll() is None
        c1 = cpu_ticks(pid) if pid and alive else c0
        q1 = io_thread_ticks(pid) if pid and alive else {}
        b1 = cpu_ticks(backend.pid)
        if pid and alive:
            run.rss_mib = status_kib(pid, "VmRSS") / 1024
            run.hwm_mib = status_kib(pid, "VmHWM") / 1024
        with open(os.path.join(LOG_DIR, f"wrk-{w.name}-{target}-r{rnd}.txt"), "w") as f:
            f.write(out.stdout + out.stderr)
        if out.returncode != 0:
            run.problems.append(f"wrk exited with {out.returncode}: {out.stderr.strip()[-300:]}")
        res = parse_wrk(out.stdout)
        run.rps, run.p99_ms, run.requests = res["rps"], res["p99_ms"], res["requests"]
        run.errors, run.socket_errors, run.non2xx = res["errors"], res["socket_errors"], res["non2xx"]
        if run.rps is None or run.p99_ms is None:
            run.ok = False
            run.problems.append("could not parse wrk output")
        if run.errors:
            run.problems.append(f"ERRORS: {run.socket_errors} socket errors, {run.non2xx} non-2xx/3xx responses")
        if not alive:
            run.ok = False
            run.problems.append(f"CRASH: {target} exited with status {proc.returncode} during the run")
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
        if n:
            run.backend_cpu_us_per_req = (b1 - b0) / CLK_TCK / n * 1e6
        run.core_other_pct = max(0.0, 100.0 * ((k1 - k0) - ((c1 - c0) if pid else 0)) / CLK_TCK / (t1 - t0))
        return run
    except subprocess.TimeoutExpired as e:
        run.ok = False
        run.problems.append(f"TIMEOUT: {' '.join(e.cmd[:6])}... did not finish")
        return run
    finally:
        if proc is not None:
            crashed_before = proc.poll() is not None
            st = stop(proc)
            run.exit_status = st
            if not crashed_before and st not in (0, None):
                run.problems.append(f"{target} exited with status {st} when stopped (SIGTERM)")
            if target == "ringway":
                with open(logfile, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
                bad = [ln for ln in text.splitlines()
                       if re.search(r"\b(ERROR|WARN)\b|panicked|fatal", ln)]
                if bad:
                    run.problems.append(f"ringway logged {len(bad)} warning/error line(s), first: {bad[0][:200]}")
            if target == "nginx":
                el = os.path.join(cfgs["nginx_dir"], "error.log")
                if os.path.exists(el):
                    with open(el, "rb") as f:
                        text = f.read().decode("utf-8", "replace")
                    with open(logfile, "a") as f:
                        f.write(text)
                    os.unlink(el)
                    bad = [ln for ln in text.splitlines() if re.search(r"\[(error|crit|alert|emerg)\]", ln)]
                    if bad:
                        run.problems.append(f"nginx proxy logged {len(bad)} error line(s), first: {bad[0][:200]}")


# ---------------------------------------------------------------------------------- report

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=".1f", none="–"):
    return none if x is None else format(x, spec)


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def workload_table(w: Workload, runs: list[Run]) -> str:
    head = ("| target | req/s | p99 ms | proxy CPU µs/req | proxy CPU % | proxy RSS MiB | "
            "backend CPU µs/req | bytes/resp | errors (all rounds) | runs ok |")
    rows = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    meds = {}
    for t in TARGETS:
        rs = [r for r in runs if r.workload == w.name and r.target == t]
        if not rs:
            continue
        m = {k: med([getattr(r, k) for r in rs]) for k in
             ("rps", "p99_ms", "cpu_us_per_req", "cpu_pct", "rss_mib", "backend_cpu_us_per_req", "bytes_per_req")}
        meds[t] = m
        errs = sum(r.errors for r in rs)
        bad = any(p.startswith("SIZE MISMATCH") for r in rs for p in r.problems)
        ok = sum(1 for r in rs if r.ok and not r.problems)
        rows.append(
            f"| {t} | {fmt(m['rps'], ',.0f')} | {fmt(m['p99_ms'], '.2f')} | {fmt(m['cpu_us_per_req'], '.2f')} "
            f"| {fmt(m['cpu_pct'], '.0f')} | {fmt(m['rss_mib'], '.1f')} | {fmt(m['backend_cpu_us_per_req'], '.2f')} "
            f"| {fmt(m['bytes_per_req'], ',.0f')}{' **SIZE MISMATCH**' if bad else ''} "
            f"| {errs}{' **!**' if errs else ''} | {ok}/{len(rs)} |")
    if "ringway" in meds and "nginx" in meds:
        a, b = meds["ringway"], meds["nginx"]
        rows.append(
            f"| **ringway/nginx** | **{fmt(ratio(a['rps'], b['rps']), '.2f')}×** "
            f"| {fmt(ratio(a['p99_ms'], b['p99_ms']), '.2f')}× "
            f"| **{fmt(ratio(a['cpu_us_per_req'], b['cpu_us_per_req']), '.2f')}×** "
            f"| | {fmt(ratio(a['rss_mib'], b['rss_mib']), '.2f')}× | | | | |")
    return "\n".join(rows)


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


def report(runs: list[Run], workloads: list[Workload], started: str, load_before: str, aborted: str | None) -> str:
    out = ["# ringway load test", ""]
    out.append(f"- started {started}; {machine_info()}")
    out.append(f"- ROUNDS={ROUNDS} DURATION={DURATION}s WARMUP={WARMUP}s; proxy on CPU {PROXY_CPU}, "
               f"wrk and backend nginx on CPU {LOAD_CPU}; one worker each; wrk -t1")
    with open("/proc/loadavg") as f:
        out.append(f"- load average before: {load_before}; after: {' '.join(f.read().split()[:3])}")
    others = med([r.core_other_pct for r in runs])
    out.append(f"- median non-proxy busy time on CPU {PROXY_CPU} during runs: {fmt(others, '.0f')}% "
               "(other processes, kernel softirq work; high values mean disturbed figures)"
               + (" — **figures disturbed: something else was using the proxy's CPU**"
                  if others is not None and others > 25 else ""))
    out.append("- figures are medians over rounds; ratios are ringway ÷ nginx (CPU µs/req below 1 = ringway "
               "cheaper; req/s above 1 = ringway faster)")
    if aborted:
        out.append(f"- **run stopped early: {aborted}**")
    out.append("")
    for w in workloads:
        out.append(f"## {w.name}: {w.what}")
        out.append("")
        out.append(workload_table(w, runs))
        out.append("")
    problems = [(r, p) for r in runs for p in r.problems]
    out.append("## Problems")
    out.append("")
    if not problems:
        out.append("None: no errors, no crashes, all sizes as expected, all preflight checks passed.")
    for r, p in problems:
        out.append(f"- round {r.round} {r.workload} {r.target}: {p}")
    crashed = [r for r in runs if r.target == "ringway" and r.log and any(
        p.startswith(("CRASH", "ringway logged", "ringway exited", "ringway did not")) for p in r.problems)]
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
               "io-wq % | RSS MiB | HWM MiB | bytes/resp | lo MiB/req | CPU" + PROXY_CPU + " other % |")
    out.append("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        out.append(
            f"| {r.round} | {r.workload} | {r.target} | {fmt(r.rps, ',.0f')} | {fmt(r.p99_ms, '.2f')} "
            f"| {fmt(r.requests, ',')} | {r.errors} | {fmt(r.cpu_s, '.2f')} | {fmt(r.cpu_us_per_req, '.2f')} "
            f"| {fmt(r.cpu_pct, '.0f')} | {fmt(r.io_wq_pct, '.0f')} | {fmt(r.rss_mib, '.1f')} | {fmt(r.hwm_mib, '.1f')} "
            f"| {fmt(r.bytes_per_req, ',.0f')} | {fmt(None if r.lo_bytes_per_req is None else r.lo_bytes_per_req / MIB, '.3f')} "
            f"| {fmt(r.core_other_pct, '.0f')} |")
    out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------------- main

def main() -> int:
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    unknown = [n for n in WORKLOADS if n not in ALL_WORKLOADS]
    if unknown:
        print(f"unknown workload(s) {unknown}; known: {list(ALL_WORKLOADS)}", file=sys.stderr)
        return 1
    workloads = [ALL_WORKLOADS[n] for n in WORKLOADS]
    for p in (BACKEND_PORT, RINGWAY_PORT, NGINX_PORT):
        if not port_free(p):
            print(f"port {p} on 127.0.0.1 is in use (set BACKEND_PORT/RINGWAY_PORT/NGINX_PORT)", file=sys.stderr)
            return 1
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo_port, hi_port = (int(x) for x in f.read().split())
        inside = [p for p in (BACKEND_PORT, RINGWAY_PORT, NGINX_PORT) if lo_port <= p <= hi_port]
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
    cfgs = {
        "backend": write_backend(backend_dir),
        "nginx_dir": os.path.join(WORKDIR, "nginx-proxy"),
        "ringway": write_ringway(os.path.join(WORKDIR, "ringway")),
    }
    cfgs["nginx"] = write_nginx_proxy(cfgs["nginx_dir"])
    with open(os.path.join(backend_dir, "html", "1m"), "rb") as f:
        file_sha = hashlib.sha256(f.read()).hexdigest()
    luas = {w.name: write_lua(WORKDIR, w) for w in workloads}

    for what, argv in (("ringway", [RINGWAY_BIN, "-t", "-c", cfgs["ringway"]]),
                       ("nginx proxy", [NGINX, "-t", "-p", cfgs["nginx_dir"], "-c", cfgs["nginx"], "-e", "/dev/stderr"]),
                       ("nginx backend", [NGINX, "-t", "-p", backend_dir, "-c", cfgs["backend"], "-e", "/dev/stderr"])):
        t = subprocess.run(argv, capture_output=True, text=True, timeout=30)
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
        per_run = DURATION + WARMUP + 5
        for rnd in range(1, ROUNDS + 1):
            for w in workloads:
                # Alternate which proxy goes first so drift does not favour one of them.
                order = ("ringway", "nginx", "direct") if rnd % 2 else ("nginx", "ringway", "direct")
                for target in order:
                    if BUDGET and time.monotonic() - START + per_run > BUDGET - 15:
                        aborted = "time budget exhausted"
                        raise Abort
                    if backend.poll() is not None:
                        aborted = f"backend nginx exited ({backend.returncode})"
                        raise Abort
                    r = one_run(rnd, w, target, luas[w.name], backend, cfgs, file_sha)
                    runs.append(r)
                    log(f"round {rnd} {w.name:6} {target:7}: {fmt(r.rps, ',.0f')} req/s, p99 {fmt(r.p99_ms, '.2f')} ms, "
                        f"CPU {fmt(r.cpu_us_per_req, '.2f')} µs/req, RSS {fmt(r.rss_mib, '.1f')} MiB, "
                        f"errors {r.errors}" + (f"  !! {'; '.join(r.problems)}" if r.problems else ""))
                    with open(os.path.join(OUT_DIR, "runs.jsonl"), "a" if len(runs) > 1 else "w") as f:
                        f.write(json.dumps(r.__dict__) + "\n")
    except Abort:
        log(f"stopping early: {aborted}")
    finally:
        stop_all()
    text = report(runs, workloads, started, load_before, aborted)
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
