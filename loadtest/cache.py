"""The proxy_cache workloads of loadtest/lt.py: cache_small, cache_1m, cache_stampede, cache_restart.

ringway and nginx with the same proxy_cache configuration (a `proxy_cache_path` in the run's
temporary directory, one cache directory per proxy and workload, emptied before each run), in the
harness's usual layout and alternation (see "Cache" in loadtest/README.md):

- cache_small / cache_1m (kind "cache"): the cache warmed by one request (MISS), a second request
  must be a HIT with the exact body; then the usual warm-up and measured wrk run, all HITs; the
  backend's request counter (stub_status) is read around the measured run: it should not move.
- cache_stampede: STAMPEDE_CONNS (1,000) connections opened, then one request on each at once for
  one cold key (loadtest/stampede_client.py), the origin (loadtest/slow_origin.py) answering after
  STAMPEDE_DELAY (0.5) s, `proxy_cache_lock on`, ringway `--workers 2` / nginx `worker_processes 2`:
  origin requests (1 is the target) and the latency percentiles of the burst.
- cache_restart: CACHE_KEYS (100,000) distinct keys fetched through the proxy (wrk with a Lua
  script walking /small?k=1..N), the proxy stopped and started again on the same cache directory:
  time from the start to the first response and to the first HIT, and the cache index memory per
  key (memory after the restart with the entries on disk, minus that of the same proxy started on
  an empty cache, ÷ keys; memory = PSS of the proxy's processes with shared memory counted once
  at its resident size, see mem_kib); nginx runs with a master process here so that its cache loader runs.
"""

from __future__ import annotations

import ctypes
import http.client
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

import lt
from lt import ENV, Run, Workload, fmt, med, ratio

CACHE_KEYS = int(ENV.get("CACHE_KEYS", "100000"))
CACHE_FILL_CONNS = int(ENV.get("CACHE_FILL_CONNS", "32"))
CACHE_SAMPLE = int(ENV.get("CACHE_SAMPLE", "1000"))
CACHE_ZONE = ENV.get("CACHE_ZONE", "64m")
CACHE_VALID = ENV.get("CACHE_VALID", "1h")
CACHE_PATH_EXTRA = ENV.get("CACHE_PATH_EXTRA", "")  # more proxy_cache_path parameters, both proxies
RINGWAY_CACHE_EXTRA = ENV.get("RINGWAY_CACHE_EXTRA", "")  # more lines in ringway's cached location
NGINX_CACHE_EXTRA = ENV.get("NGINX_CACHE_EXTRA", "")  # ... and nginx's
# nginx's cache loader starts 60 s after nginx (hard-wired) and, with its defaults (100 files
# every 50 ms), reads ~2,000 entries/s: the wait for it after a restart is bounded by this.
CACHE_SETTLE_MAX = float(ENV.get("CACHE_SETTLE_MAX", str(90 + CACHE_KEYS / 1000)))
STAMPEDE_CONNS = int(ENV.get("STAMPEDE_CONNS", "1000"))
STAMPEDE_DELAY = float(ENV.get("STAMPEDE_DELAY", "0.5"))
STAMPEDE_BODY = int(ENV.get("STAMPEDE_BODY", "100"))
STAMPEDE_WORKERS = int(ENV.get("STAMPEDE_WORKERS", "2"))
ORIGIN_PORT = int(ENV.get("CACHE_ORIGIN_PORT", "28087"))
HERE = os.path.dirname(os.path.abspath(__file__))
ORIGIN = os.path.join(HERE, "slow_origin.py")
STAMPEDE_CLIENT = os.path.join(HERE, "stampede_client.py")
ANSWER_LIMIT = 60  # stampede_client.py's own bound for the answers

_origin: subprocess.Popen | None = None


# ---------------------------------------------------------------------------------- configs

def cache_dir(target: str, w: Workload) -> str:
    return os.path.join(lt.WORKDIR, "cache", f"{target}-{w.name}")


def lines(target: str, w: Workload) -> tuple[str, str]:
    """(http-level, location-level) cache lines: the same for ringway and nginx, but for nginx's
    `sendfile on` in cache_1m and the *_CACHE_EXTRA settings."""
    path = (f"proxy_cache_path {cache_dir(target, w)} levels=1:2 keys_zone=lt_cache:{CACHE_ZONE} inactive=1d"
            f"{' ' + CACHE_PATH_EXTRA if CACHE_PATH_EXTRA else ''};")
    loc = ["proxy_cache lt_cache;", f"proxy_cache_valid 200 {CACHE_VALID};",
           "add_header X-Cache-Status $upstream_cache_status;"]
    if w.kind == "stampede":
        loc.append("proxy_cache_lock on;")
    if target == "nginx":
        if w.name == "cache_1m":
            loc.append("sendfile on;")
        if NGINX_CACHE_EXTRA:
            loc.append(NGINX_CACHE_EXTRA)
    elif RINGWAY_CACHE_EXTRA:
        loc.append(RINGWAY_CACHE_EXTRA)
    return path, "\n            ".join(loc)


def prepare(ws: list[Workload], cfgs: dict, has_ringway: bool) -> str | None:
    """Writes each cache workload's configs into cfgs ("ringway:NAME", "nginx:NAME",
    "ringway-workers:NAME") and checks them (`ringway -t`, `nginx -t`). Returns a problem or None."""
    checks = []
    for w in ws:
        stampede = w.kind == "stampede"
        port = ORIGIN_PORT if stampede else lt.BACKEND_PORT
        for target in ("ringway", "nginx"):
            os.makedirs(cache_dir(target, w), exist_ok=True)
        hp, loc = lines("ringway", w)
        cfgs[f"ringway:{w.name}"] = lt.write_ringway(os.path.join(lt.WORKDIR, "ringway"), name=f"ringway-{w.name}.conf",
                                                     http_extra=hp, extra=loc, backend_port=port)
        cfgs[f"ringway-workers:{w.name}"] = STAMPEDE_WORKERS if stampede else 1
        hp, loc = lines("nginx", w)
        # cache_restart: a master process, so that nginx's cache loader runs as in a deployment;
        # cache_stampede: two workers (which needs a master process).
        cfgs[f"nginx:{w.name}"] = lt.write_nginx_proxy(
            cfgs["nginx_dir"], name=f"nginx-{w.name}.conf", extra=lt.NGINX_EXTRA + "\n            " + loc,
            http_extra=hp, workers=STAMPEDE_WORKERS if stampede else 1, master=w.kind in ("stampede", "restart"),
            backend_port=port)
        if has_ringway:
            checks.append((f"ringway ({w.name})", [lt.RINGWAY_BIN, "-t", "-c", cfgs[f"ringway:{w.name}"]]))
        checks.append((f"nginx proxy ({w.name})", [lt.NGINX, "-t", "-p", cfgs["nginx_dir"], "-c", cfgs[f"nginx:{w.name}"],
                                                   "-e", "/dev/stderr"]))
    if any(w.kind == "stampede" for w in ws) and not lt.port_free(ORIGIN_PORT):
        return f"port {ORIGIN_PORT} on 127.0.0.1 is in use (set CACHE_ORIGIN_PORT)"
    for what, argv in checks:
        t = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if t.returncode != 0:
            return f"{what} rejects its configuration:\n{t.stdout}{t.stderr}"
    return None


def notes(ws: list[Workload]) -> list[str]:
    out = ["cache workloads: ringway and nginx only (HAProxy has no disk cache); the same `proxy_cache_path "
           f"… levels=1:2 keys_zone=lt_cache:{CACHE_ZONE} inactive=1d`, `proxy_cache_valid 200 {CACHE_VALID}` and "
           "`add_header X-Cache-Status $upstream_cache_status` in both, a cache directory per proxy and workload "
           "under the run's temporary directory, emptied before each run"]
    if any(w.name == "cache_1m" for w in ws):
        out.append("cache_1m: nginx serves its HITs with `sendfile on`")
    if any(w.kind == "stampede" for w in ws):
        out.append(f"cache_stampede: `proxy_cache_lock on`; ringway `--workers {STAMPEDE_WORKERS}`, nginx "
                   f"`worker_processes {STAMPEDE_WORKERS}` (master process), all on CPU {lt.PROXY_CPU}; origin "
                   f"loadtest/slow_origin.py on CPU {lt.LOAD_CPU} answering after {STAMPEDE_DELAY:g} s; "
                   f"client loadtest/stampede_client.py (epoll, {STAMPEDE_CONNS} connections opened first, then one "
                   "request on each in one loop; latency from each request's own send)")
    if any(w.kind == "restart" for w in ws):
        out.append(f"cache_restart: {CACHE_KEYS:,} keys filled with wrk ({CACHE_FILL_CONNS} connections); nginx with a "
                   "master process (its cache loader runs, 60 s after the start); memory = PSS of the "
                   "proxy's processes, shared memory (nginx's keys zone) counted once at its resident size; a warm "
                   "restart (the cache files stay in the page cache)")
    return out


def per_run(w: Workload) -> float:
    """Seconds one (round, target) run may take, for the time budget."""
    if w.kind == "cache":
        return lt.DURATION + lt.WARMUP + 10
    if w.kind == "stampede":
        return 15 + STAMPEDE_CONNS / 100 + ANSWER_LIMIT + 15
    return 30 + 2 * CACHE_SETTLE_MAX + fill_bound() + 30


def fill_bound() -> int:
    """wrk's -d for the fill: at least 500 misses a second."""
    return 30 + CACHE_KEYS // 500


# ---------------------------------------------------------------------------------- helpers

def get(port: int, path: str, conn: http.client.HTTPConnection | None = None) -> tuple[int, str, bytes]:
    """GET path; returns (status, X-Cache-Status or '(none)', body)."""
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.getheader("X-Cache-Status", "(none)"), r.read()
    finally:
        if conn is None:
            c.close()


def backend_counts(port: int = lt.BACKEND_PORT) -> tuple[int, int] | None:
    """The backend's stub_status (accepts, requests); this request counts in both."""
    try:
        st, b = lt.request(port, "GET", "/lt_status")
        m = re.search(rb"server accepts handled requests\s+(\d+)\s+\d+\s+(\d+)", b)
        return (int(m.group(1)), int(m.group(2))) if st == 200 and m else None
    except Exception:  # noqa: BLE001
        return None


def origin_count() -> int | None:
    """Requests the slow origin has answered (its /lt_count is not counted)."""
    try:
        st, b = lt.request(ORIGIN_PORT, "GET", "/lt_count")
        return int(b.split()[0]) if st == 200 else None
    except Exception:  # noqa: BLE001
        return None


def group_pids(pgid: int) -> list[int]:
    """The processes of a process group (a proxy started in its own session: nginx's master,
    workers, cache manager and loader; ringway's one process)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        if int(s[s.rindex(")") + 2:].split()[2]) == pgid:  # field 5, pgrp
            out.append(int(d))
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
PAGE = os.sysconf("SC_PAGE_SIZE")
SHMEM = ("/dev/zero", "/SYSV", "/memfd:", "[anon_shmem]")


def shm_resident_kib(pid: int, rng: str) -> tuple[tuple[int, int], int] | None:
    """The resident size of the shared memory object behind one mapping of a process (all its
    pages in memory, whether or not this process has touched them): mmap of
    /proc/PID/map_files/RANGE (needs root) and mincore(2). Returns ((dev, inode), KiB) or None."""
    path = f"/proc/{pid}/map_files/{rng}"
    try:
        st = os.stat(path)
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        a, b = (int(x, 16) for x in rng.split("-"))
        n = b - a
        addr = _libc.mmap(None, n, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
        if addr is None or addr == ctypes.c_void_p(-1).value:
            return None
        try:
            vec = (ctypes.c_ubyte * ((n + PAGE - 1) // PAGE))()
            if _libc.mincore(addr, n, vec) != 0:
                return None
            return (st.st_dev, st.st_ino), sum(v & 1 for v in vec) * PAGE // 1024
        finally:
            _libc.munmap(addr, n)
    finally:
        os.close(fd)


def mem_kib(pids: list[int]) -> int:
    """The memory of a proxy's processes: PSS (/proc/PID/smaps) of every mapping but shared memory,
    plus each shared memory object (nginx's keys zone) once, with all its resident pages. PSS alone
    would miss the zone pages that only an exited process touched (nginx's cache loader fills the
    keys zone, then exits: the worker maps those pages only when it looks a key up)."""
    total = 0
    objs: dict = {}
    for pid in pids:
        head = None
        try:
            with open(f"/proc/{pid}/smaps") as f:
                for line in f:
                    p = line.split()
                    if not p:
                        continue
                    if not p[0].endswith(":"):
                        head = p  # range perms offset dev inode [path]
                    elif p[0] == "Pss:" and head is not None:
                        name = " ".join(head[5:])
                        if head[1][3:4] == "s" and name.startswith(SHMEM):
                            r = shm_resident_kib(pid, head[0])
                            if r is not None:
                                objs[r[0]] = r[1]
                                continue
                        total += int(p[1])
        except OSError:
            continue
    return total + sum(objs.values())


def group_ticks(pgid: int) -> int:
    return sum(lt.cpu_ticks(p) for p in group_pids(pgid) if os.path.exists(f"/proc/{p}"))


def wipe(d: str) -> None:
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d, exist_ok=True)


def disk_usage(d: str) -> tuple[int, int]:
    """(regular files, bytes allocated) under d."""
    n = size = 0
    for root, _dirs, files in os.walk(d):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            n += 1
            size += st.st_blocks * 512
    return n, size


def expected_ok(w: Workload, body: bytes, file_sha: dict) -> bool:
    if w.path == "/small":
        return body == lt.SMALL_BODY
    import hashlib
    name = w.path.lstrip("/")
    return len(body) == lt.FILES[name] and hashlib.sha256(body).hexdigest() == file_sha[name]


# ---------------------------------------------------------------------------------- cache_small, cache_1m

def hit_run(rnd: int, w: Workload, target: str, lua: str, backend: subprocess.Popen, cfgs: dict,
            file_sha: dict) -> Run:
    """Warm the cache with one request, check a HIT, then wrk on HITs; the backend's request
    counter around the measured run."""
    run = Run(rnd, w.name, target)
    c = run.cache = {}
    direct = target == "direct"
    if not direct:
        wipe(cache_dir(target, w))
    a0 = backend_counts() if not direct else None
    proc, port, logfile, _env = lt.start_target(rnd, w, target, cfgs)
    run.log = logfile
    url = lt.target_url(port, w)
    try:
        if not lt.started_ok(run, target, proc, port):
            return run
        # warm: the first request fills the cache (MISS), the next must come from it (HIT); a proxy
        # that stores the entry after the answer gets up to 20 tries 50 ms apart (counted)
        for i, want in enumerate(("MISS", "HIT") if not direct else ("(none)",)):
            for tries in range(1, 21 if i else 2):
                st, cs, body = get(port, w.path)
                if cs != "MISS":
                    break
                time.sleep(0.05)
            c["warm" if i == 0 else "check"] = cs
            if i:
                c["check_tries"] = tries
            if st != 200 or not expected_ok(w, body, file_sha):
                run.problems.append(f"preflight: GET {w.path} ({'warm' if i == 0 else 'check'}): status {st}, "
                                    f"{len(body)} bytes, not the backend's body")
            if cs != want:
                run.problems.append(f"preflight: GET {w.path}: X-Cache-Status {cs}, expected {want}")
        if lt.WARMUP > 0:
            subprocess.run(lt.wrk_cmd(url, w, lua, lt.WARMUP), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=lt.WARMUP + 30)
        if proc is not None and proc.poll() is not None:
            run.ok = False
            run.problems.append(f"CRASH: {target} exited with status {proc.returncode} during warm-up")
            return run
        b1 = backend_counts()
        lt.measured(run, w, proc, proc.pid if proc else None, backend, lt.wrk_cmd(url, w, lua, lt.DURATION),
                    f"wrk-{w.name}-{target}-r{rnd}.txt", lt.parse_wrk, lt.DURATION)
        b2 = backend_counts()
        if b1 and b2:
            c["backend_requests_run"] = b2[1] - b1[1] - 1  # less the second counter read itself
        if not direct:
            if a0 and b1 and b2:
                run.upstream_run = b2[0] - b1[0] - 1
                run.upstream_total = b2[0] - a0[0] - 2
            if c.get("backend_requests_run"):
                run.problems.append(f"the backend got {c['backend_requests_run']:,} requests during the measured run "
                                    f"(expected none: every request a HIT)")
            if proc.poll() is None:
                st, cs, body = get(port, w.path)
                c["after"] = cs
                if st != 200 or cs != "HIT" or not expected_ok(w, body, file_sha):
                    run.problems.append(f"after the run: GET {w.path}: status {st}, X-Cache-Status {cs}, "
                                        f"{len(body)} bytes")
            c["files"], c["disk_bytes"] = disk_usage(cache_dir(target, w))
        return run
    except (subprocess.TimeoutExpired, OSError, http.client.HTTPException) as e:
        run.ok = False
        run.problems.append(f"cache run failed: {type(e).__name__}: {e}")
        return run
    finally:
        lt.finish_target(run, target, proc, logfile, cfgs)


# ---------------------------------------------------------------------------------- cache_stampede

def start_origin() -> subprocess.Popen | None:
    global _origin
    if _origin is not None and _origin.poll() is None:
        return _origin
    lt.wait_port_free(ORIGIN_PORT)
    _origin = lt.spawn(["taskset", "-c", lt.LOAD_CPU, sys.executable, ORIGIN, str(ORIGIN_PORT), str(STAMPEDE_DELAY),
                        str(STAMPEDE_BODY)], os.path.join(lt.LOG_DIR, "slow-origin.log"))
    if not lt.wait_port(ORIGIN_PORT, _origin):
        return None
    return _origin


def stampede_run(rnd: int, w: Workload, target: str, cfgs: dict) -> Run:
    run = Run(rnd, w.name, target)
    c = run.cache = {"workers": STAMPEDE_WORKERS}
    origin = start_origin()
    if origin is None:
        run.ok = False
        run.problems.append(f"the slow origin did not start on {ORIGIN_PORT}: {lt.tail(os.path.join(lt.LOG_DIR, 'slow-origin.log'), 5)}")
        return run
    wipe(cache_dir(target, w))
    proc, port, logfile, _env = lt.start_target(rnd, w, target, cfgs)
    run.log = logfile
    path = f"{w.path}-r{rnd}-{target}"  # one cold key per run
    try:
        if not lt.started_ok(run, target, proc, port):
            return run
        time.sleep(0.5)  # nginx: every worker up
        n0 = origin_count()
        t0 = group_ticks(proc.pid)
        out = subprocess.run(["taskset", "-c", lt.LOAD_CPU, sys.executable, STAMPEDE_CLIENT, str(port), str(w.conns),
                              path, str(w.resp_body)], capture_output=True, text=True,
                             timeout=30 + w.conns / 100 + ANSWER_LIMIT)
        with open(os.path.join(lt.LOG_DIR, f"stampede-{target}-r{rnd}.txt"), "w") as f:
            f.write(out.stdout + out.stderr)
        n1 = origin_count()
        alive = proc.poll() is None
        if alive:
            c["cpu_ms"] = (group_ticks(proc.pid) - t0) / lt.CLK_TCK * 1e3
            c["mem_mib"] = mem_kib(group_pids(proc.pid)) / 1024
        try:
            r = json.loads(out.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            run.ok = False
            run.problems.append(f"stampede client gave no result: {out.stderr.strip()[-300:]}")
            return run
        c.update(r)
        if n0 is not None and n1 is not None:
            c["origin_requests"] = n1 - n0
        run.requests, run.errors = r.get("ok"), r.get("failed", 0) + r.get("open_failed", 0)
        run.p99_ms = r.get("p99_ms")
        if r.get("open_failed"):
            run.problems.append(f"ERRORS: {r['open_failed']} of {w.conns} connections failed to open "
                                f"(first: {r.get('open_error')})")
        if r.get("failed"):
            run.problems.append(f"ERRORS: {r['failed']} of {r.get('opened')} requests failed (first: {r.get('first_error')})")
        if not alive:
            run.ok = False
            run.problems.append(f"CRASH: {target} exited with status {proc.returncode} during the stampede")
            return run
        if c.get("origin_requests", 0) != 1:
            run.problems.append(f"the origin got {c.get('origin_requests')} requests for one key (target: 1)")
        for _ in range(20):  # the entry may be stored just after the last answer
            st, cs, body = get(port, path)
            if cs != "MISS":
                break
            time.sleep(0.05)
        c["after"] = cs
        if st != 200 or cs != "HIT" or len(body) != w.resp_body:
            run.problems.append(f"after the stampede: GET {path}: status {st}, X-Cache-Status {cs}, {len(body)} bytes")
        return run
    except (subprocess.TimeoutExpired, OSError, http.client.HTTPException) as e:
        run.ok = False
        run.problems.append(f"stampede run failed: {type(e).__name__}: {e}")
        return run
    finally:
        lt.finish_target(run, target, proc, logfile, cfgs)


# ---------------------------------------------------------------------------------- cache_restart

FILL_LUA = r"""
-- Walks /small?k=1..N once; stops once N answers were not HITs (each key's one request).
-- The first request() call and every call after the N keys ask for key 0, cached before the
-- fill: wrk 4 calls request() once at start without sending it (to check for pipelining), and
-- the connections still busy when the last key is answered must not add keys.
local N = %d
n, got, bad, miss, orig = 0, 0, 0, 0, 0
threads = {}
setup = function(thread) table.insert(threads, thread) end
request = function()
  n = n + 1
  if n == 1 or n > N + 1 then return wrk.format("GET", "/small?k=0") end
  return wrk.format("GET", "/small?k=" .. (n - 1))
end
response = function(status, headers, body)
  got = got + 1
  local cs = "(none)"
  for k, v in pairs(headers) do
    if string.lower(k) == "x-cache-status" then cs = v end
  end
  if status ~= 200 or body ~= "%s" then bad = bad + 1 end
  if cs ~= "HIT" then orig = orig + 1 end
  if cs == "MISS" then miss = miss + 1 end
  if orig == N then
    -- the thread stops sending; SIGINT ends wrk's wait for -d (after system() returned: it
    -- ignores SIGINT while it runs)
    wrk.thread:stop()
    os.execute("(sleep 0.05; kill -INT $PPID) &")
  end
end
done = function(summary, latency, requests)
  local o, b, m = 0, 0, 0
  for _, t in ipairs(threads) do o = o + t:get("orig"); b = b + t:get("bad"); m = m + t:get("miss") end
  local e = summary.errors
  io.write(string.format("LT_FILL answered=%%d bad=%%d miss=%%d errors=%%d duration_us=%%d\n", o, b, m,
    e.connect + e.read + e.write + e.status + e.timeout, summary.duration))
end
"""


def write_fill_lua() -> str:
    body = lt.SMALL_BODY.decode().replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    path = os.path.join(lt.WORKDIR, "cache_fill.lua")
    with open(path, "w") as f:
        f.write(FILL_LUA % (CACHE_KEYS, body))
    return path


def first_answers(port: int, proc: subprocess.Popen, t0: float, keys: list[int], bound: float) -> dict:
    """Requests filled keys (each a different one) from the moment the proxy was started until a
    HIT: ms from the start to the first response and to the first HIT, the tries in between."""
    r: dict = {"first_response_ms": None, "first_hit_ms": None, "first_status": None, "tries": 0}
    conn = None
    i = 0
    while time.monotonic() - t0 < bound and proc.poll() is None:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.connect()
            except OSError:
                conn = None
                time.sleep(0.001)
                continue
        k = keys[i % len(keys)]
        i += 1
        try:
            st, cs, body = get(port, f"/small?k={k}", conn)
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = None
            time.sleep(0.001)
            continue
        now = (time.monotonic() - t0) * 1e3
        r["tries"] += 1
        if r["first_response_ms"] is None:
            r["first_response_ms"], r["first_status"] = now, f"{st} {cs}"
        if st == 200 and cs == "HIT" and body == lt.SMALL_BODY:
            r["first_hit_ms"] = now
            break
        time.sleep(0.002)
    if conn is not None:
        conn.close()
    return r


def log_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def loaded(log: tuple[str, int] | None) -> bool:
    """Whether ringway's log (its output, appended to by each start) says, past the given byte
    offset, that its cache loader has read the whole zone."""
    if not log:
        return True
    path, offset = log
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return b"cache loaded from" in f.read()
    except OSError:
        return False


def settle(proc: subprocess.Popen, bound: float, loader: bool,
           log: tuple[str, int] | None = None) -> tuple[int, float, bool]:
    """Waits until the proxy's memory (mem_kib) stays within 64 KiB for 2 s and the cache loader
    is done: with `loader`, nginx's cache loader process has exited; with `log`, ringway has
    logged that its loader read the whole zone (its index grows in steps, so its memory alone can
    stay put for 2 s while it loads; the log from the offset of this start). Returns (KiB, seconds
    waited, settled)."""
    t0 = time.monotonic()
    hist: list[int] = []
    m = 0
    while proc.poll() is None:
        pids = group_pids(proc.pid)
        busy = (loader and any("cache loader" in cmdline(p) for p in pids)) or not loaded(log)
        m = mem_kib(pids)
        hist.append(m)
        if not busy and len(hist) >= 5 and max(hist[-5:]) - min(hist[-5:]) <= 64:
            return m, time.monotonic() - t0, True
        if time.monotonic() - t0 > bound:
            return m, time.monotonic() - t0, False
        time.sleep(0.5)
    return m, time.monotonic() - t0, False


def restart_run(rnd: int, w: Workload, target: str, cfgs: dict) -> Run:
    run = Run(rnd, w.name, target)
    c = run.cache = {"keys": CACHE_KEYS}
    d = cache_dir(target, w)
    wipe(d)
    rng = random.Random(rnd)
    keys = list(range(1, CACHE_KEYS + 1))
    poll_keys = rng.sample(keys, min(len(keys), 5000))
    sample = rng.sample(keys, min(len(keys), CACHE_SAMPLE))
    proc = logfile = None
    try:
        # 1. an empty cache: start, first answer, settled memory
        lt.wait_port_free(lt.PROXY_PORTS[target])
        own_log = lt.target_log(target, w, rnd)
        log_at = log_size(own_log)
        t0 = time.monotonic()
        proc, port, logfile, _env = lt.start_target(rnd, w, target, cfgs, wait=False)
        run.log = logfile
        f = first_answers(port, proc, t0, [0], 10.0)  # an empty cache: a MISS, then a HIT of key 0 (not filled)
        if not lt.started_ok(run, target, proc, port):
            return run
        c["empty_first_response_ms"] = f["first_response_ms"]
        # nginx: after its cache loader (started with nginx, it waits 60 s, then reads the directory)
        # has exited, as after the restart: PSS shares move between processes when one exits
        c["empty_mem_kib"], c["empty_settle_s"], ok = settle(proc, CACHE_SETTLE_MAX, loader=target == "nginx",
                                                             log=(own_log, log_at) if target == "ringway" else None)
        if not ok:
            run.problems.append(f"memory with an empty cache not settled within {CACHE_SETTLE_MAX:.0f} s")
        if target == "ringway":
            c["empty_rss_kib"] = lt.status_kib(proc.pid, "VmRSS")
        # 2. fill: CACHE_KEYS distinct keys through the proxy (all MISSes, each stored)
        b0 = backend_counts()
        t1 = group_ticks(proc.pid)
        argv = ["taskset", "-c", lt.LOAD_CPU, "wrk", "-t1", f"-c{w.conns}", f"-d{fill_bound()}s", "--timeout", "5s",
                "-s", write_fill_lua(), f"http://127.0.0.1:{port}/"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=fill_bound() + 30)
        with open(os.path.join(lt.LOG_DIR, f"wrk-{w.name}-{target}-r{rnd}-fill.txt"), "w") as fh:
            fh.write(" ".join(argv) + "\n" + out.stdout + out.stderr)
        b1 = backend_counts()
        m = re.search(r"LT_FILL (.*)", out.stdout)
        if not m or proc.poll() is not None:
            run.ok = False
            run.problems.append(f"fill failed: wrk exited {out.returncode}: {(out.stdout + out.stderr).strip()[-300:]}")
            return run
        kv = {k: int(v) for k, v in (x.split("=") for x in m.group(1).split())}
        c["fill_answered"], c["fill_miss"] = kv["answered"], kv["miss"]
        c["fill_rps"] = kv["answered"] / (kv["duration_us"] / 1e6) if kv["duration_us"] else None
        if kv["answered"]:
            c["fill_cpu_us"] = (group_ticks(proc.pid) - t1) / lt.CLK_TCK / kv["answered"] * 1e6
        if b0 and b1:
            c["fill_backend_requests"] = b1[1] - b0[1] - 1
        if kv["answered"] < CACHE_KEYS or kv["bad"] or kv["errors"]:
            run.problems.append(f"fill: {kv['answered']:,} of {CACHE_KEYS:,} answered, {kv['bad']} bad, "
                                f"{kv['errors']} errors")
        if kv["miss"] < CACHE_KEYS:
            run.problems.append(f"fill: {kv['miss']:,} MISSes for {CACHE_KEYS:,} distinct keys")
        time.sleep(1.0)
        c["fill_mem_kib"] = mem_kib(group_pids(proc.pid))
        # 3. stop (SIGTERM: ringway drains, nginx's master stops its workers), count what is on disk
        lt.finish_target(run, target, proc, logfile, cfgs)
        proc = None
        c["files"], c["disk_bytes"] = disk_usage(d)
        lt.wait_port_free(port)
        # 4. start again on the same directory: first response, first HIT (each try a different filled key)
        b2 = backend_counts()
        log_at = log_size(own_log)
        t0 = time.monotonic()
        proc, port, logfile, _env = lt.start_target(rnd, w, target, cfgs, wait=False)
        f = first_answers(port, proc, t0, poll_keys, 30.0)
        if not lt.started_ok(run, target, proc, port):
            return run
        c.update(first_response_ms=f["first_response_ms"], first_hit_ms=f["first_hit_ms"],
                 first_status=f["first_status"], tries_to_hit=f["tries"])
        if f["first_hit_ms"] is None:
            run.problems.append(f"after the restart: no HIT within 30 s ({f['tries']} tries, first answer "
                                f"{f['first_status']})")
        # 5. settled memory (nginx: once its cache loader has exited), then a sample of the keys
        c["mem_kib"], c["settle_s"], ok = settle(proc, CACHE_SETTLE_MAX, loader=target == "nginx",
                                                 log=(own_log, log_at) if target == "ringway" else None)
        if not ok:
            run.problems.append(f"memory not settled within {CACHE_SETTLE_MAX:.0f} s after the restart")
        if proc.poll() is None and target == "ringway":
            c["rss_kib"] = lt.status_kib(proc.pid, "VmRSS")  # nginx: the master's own RSS says nothing
        run.rss_mib = c["mem_kib"] / 1024
        if c.get("empty_mem_kib") is not None:
            c["bytes_per_key"] = (c["mem_kib"] - c["empty_mem_kib"]) * 1024 / CACHE_KEYS
            c["fill_bytes_per_key"] = (c["fill_mem_kib"] - c["empty_mem_kib"]) * 1024 / CACHE_KEYS
        if c.get("rss_kib") and c.get("empty_rss_kib"):
            c["rss_bytes_per_key"] = (c["rss_kib"] - c["empty_rss_kib"]) * 1024 / CACHE_KEYS
        hits = 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for k in sample:
                st, cs, body = get(port, f"/small?k={k}", conn)
                hits += st == 200 and cs == "HIT" and body == lt.SMALL_BODY
        finally:
            conn.close()
        c["sample"], c["sample_hits"] = len(sample), hits
        b3 = backend_counts()
        if b2 and b3:
            c["backend_requests_after"] = b3[1] - b2[1] - 1
        if hits < len(sample):
            run.problems.append(f"after the restart: {len(sample) - hits} of {len(sample)} sampled filled keys were "
                                "not HITs")
        if proc.poll() is not None:
            run.ok = False
            run.problems.append(f"CRASH: {target} exited with status {proc.returncode} after the restart")
        return run
    except (subprocess.TimeoutExpired, OSError, http.client.HTTPException, ValueError, KeyError) as e:
        run.ok = False
        run.problems.append(f"restart run failed: {type(e).__name__}: {e}")
        return run
    finally:
        if proc is not None:
            lt.finish_target(run, target, proc, logfile, cfgs)
        # both processes log to one file, read at each stop: each finding once
        run.problems = list(dict.fromkeys(run.problems))


# ---------------------------------------------------------------------------------- dispatch, report

def run(rnd: int, w: Workload, target: str, lua: str, backend: subprocess.Popen, cfgs: dict, file_sha: dict) -> Run:
    if w.kind == "cache":
        return hit_run(rnd, w, target, lua, backend, cfgs, file_sha)
    if w.kind == "stampede":
        return stampede_run(rnd, w, target, cfgs)
    return restart_run(rnd, w, target, cfgs)


def summary(r: Run) -> str:
    c = r.cache or {}
    if r.target == "direct":
        return ""
    if r.workload in ("cache_small", "cache_1m"):
        return (f"cache {c.get('warm')}→{c.get('check')}→{c.get('after', '–')}, backend requests during the run "
                f"{c.get('backend_requests_run', '–')}")
    if "origin_requests" in c or "p50_ms" in c:
        return (f"origin requests {c.get('origin_requests', '–')}, p50 {fmt(c.get('p50_ms'), '.0f')} p99 "
                f"{fmt(c.get('p99_ms'), '.0f')} max {fmt(c.get('max_ms'), '.0f')} ms, statuses {c.get('cache_status')}")
    return (f"fill {fmt(c.get('fill_rps'), ',.0f')} req/s, {c.get('files', '–')} files; restart: first response "
            f"{fmt(c.get('first_response_ms'), '.1f')} ms, first HIT {fmt(c.get('first_hit_ms'), '.1f')} ms, settled "
            f"{fmt(c.get('settle_s'), '.1f')} s, {fmt(c.get('bytes_per_key'), ',.0f')} B/key, sample HITs "
            f"{c.get('sample_hits', '–')}/{c.get('sample', '–')}")


def cmed(rs: list[Run], key: str):
    return med([(r.cache or {}).get(key) for r in rs])


def table(w: Workload, runs: list[Run]) -> str:
    if w.kind == "cache":
        return hit_table(w, runs)
    if w.kind == "stampede":
        return stampede_table(w, runs)
    return restart_table(w, runs)


def _rows(w: Workload, runs: list[Run]):
    for t in lt.TARGETS:
        rs = [r for r in runs if r.workload == w.name and r.target == t]
        if rs:
            yield t, rs, sum(1 for r in rs if r.ok and not r.problems), sum(r.errors for r in rs)


def hit_table(w: Workload, runs: list[Run]) -> str:
    rows = [lt.workload_table(w, runs), "", machine_table(w, runs), "",
            "Cache: X-Cache-Status of the warming request → the check (repeated up to 20 times 50 ms apart while "
            "it is a MISS; the try that was not is shown when it was not the first) → a request after the "
            "measured run (all rounds); requests the backend got during the measured runs (max over rounds; 0 = every request a HIT); "
            "files and space in the cache directory at the end.", "",
            "| target | X-Cache-Status warm → check → after | backend requests during the run | cache files | cache KiB on disk |",
            "|---|---|---:|---:|---:|"]
    for t, rs, _ok, _e in _rows(w, runs):
        if t == "direct":
            continue
        seq = sorted({f"{(r.cache or {}).get('warm')} → {(r.cache or {}).get('check')}"
                      + (f" (try {(r.cache or {}).get('check_tries')})" if ((r.cache or {}).get('check_tries') or 1) > 1 else "")
                      + f" → {(r.cache or {}).get('after', '–')}" for r in rs})
        br = [(r.cache or {}).get("backend_requests_run") for r in rs]
        br = [x for x in br if x is not None]
        n = max(br) if br else None
        rows.append(f"| {t} | {'; '.join(seq)} | {fmt(n, ',.0f')}{' **!**' if n else ''} | {fmt(cmed(rs, 'files'), ',.0f')} "
                    f"| {fmt(None if cmed(rs, 'disk_bytes') is None else cmed(rs, 'disk_bytes') / 1024, ',.0f')} |")
    return "\n".join(rows)


def machine_table(w: Workload, runs: list[Run]) -> str:
    """Where the CPU went: the proxy's own per round, and both cores' (the proxy, wrk, and the
    kernel's loopback work, which lands on whichever core's context sends or receives), with the
    ringway/nginx ratio of each round (rounds alternate, so a round's pair shares its host state)."""
    rows = ["CPU per request of the proxy and of the whole machine (both cores: proxy, wrk, the kernel's "
            "loopback work wherever it ran) by round, and ringway ÷ nginx of each:", "",
            "| round | ringway proxy µs/req | nginx proxy µs/req | ratio | ringway machine µs/req | nginx machine µs/req | ratio |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    by = {(r.round, r.target): r for r in runs if r.workload == w.name and r.ok}
    pr, mr = [], []
    for rnd in sorted({r.round for r in runs if r.workload == w.name}):
        a, b = by.get((rnd, "ringway")), by.get((rnd, "nginx"))
        if not a or not b:
            continue
        p = ratio(a.cpu_us_per_req, b.cpu_us_per_req)
        m = ratio(a.machine_us_per_req, b.machine_us_per_req)
        pr.append(p)
        mr.append(m)
        rows.append(f"| {rnd} | {fmt(a.cpu_us_per_req, '.1f')} | {fmt(b.cpu_us_per_req, '.1f')} | {fmt(p, '.2f')}× "
                    f"| {fmt(a.machine_us_per_req, '.1f')} | {fmt(b.machine_us_per_req, '.1f')} | {fmt(m, '.2f')}× |")
    rows.append(f"| **median** | | | **{fmt(med(pr), '.2f')}×** | | | **{fmt(med(mr), '.2f')}×** |")
    return "\n".join(rows)


def stampede_table(w: Workload, runs: list[Run]) -> str:
    rows = [f"{w.conns:,} connections opened first, then one GET of the same cold key on each at once; the origin "
            f"answers after {STAMPEDE_DELAY:g} s; latency from each request's send to its last byte. Medians over "
            "rounds; origin requests: max over rounds (target 1).", "",
            "| target | workers | requests ok | **origin requests** | p50 ms | p90 ms | **p99 ms** | max ms | min ms "
            "| last answer after s | X-Cache-Status (all rounds) | after: | proxy CPU ms | proxy memory MiB | errors (all rounds) | runs ok |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|"]
    meds = {}
    for t, rs, ok, errs in _rows(w, runs):
        m = {k: cmed(rs, k) for k in ("workers", "ok", "p50_ms", "p90_ms", "p99_ms", "max_ms", "min_ms",
                                      "last_answer_s", "cpu_ms", "mem_mib")}
        ors = [(r.cache or {}).get("origin_requests") for r in rs]
        ors = [x for x in ors if x is not None]
        m["origin"] = max(ors) if ors else None
        meds[t] = m
        st: dict = {}
        for r in rs:
            for k, v in ((r.cache or {}).get("cache_status") or {}).items():
                st[k] = st.get(k, 0) + v
        after = sorted({str((r.cache or {}).get("after", "–")) for r in rs})
        rows.append(f"| {t} | {fmt(m['workers'], '.0f')} | {fmt(m['ok'], ',.0f')} | **{fmt(m['origin'], ',.0f')}**"
                    f"{' **!**' if m['origin'] not in (None, 1) else ''} | {fmt(m['p50_ms'], '.1f')} "
                    f"| {fmt(m['p90_ms'], '.1f')} | **{fmt(m['p99_ms'], '.1f')}** | {fmt(m['max_ms'], '.1f')} "
                    f"| {fmt(m['min_ms'], '.1f')} | {fmt(m['last_answer_s'], '.3f')} "
                    f"| {', '.join(f'{k} {v:,}' for k, v in sorted(st.items())) or '–'} | {', '.join(after)} "
                    f"| {fmt(m['cpu_ms'], ',.0f')} | {fmt(m['mem_mib'], '.1f')} | {errs}{' **!**' if errs else ''} "
                    f"| {ok}/{len(rs)} |")
    if "ringway" in meds and "nginx" in meds:
        a, b = meds["ringway"], meds["nginx"]
        rows.append(f"| **ringway/nginx** | | | {fmt(ratio(a['origin'], b['origin']), '.2f')}× "
                    f"| {fmt(ratio(a['p50_ms'], b['p50_ms']), '.2f')}× | {fmt(ratio(a['p90_ms'], b['p90_ms']), '.2f')}× "
                    f"| **{fmt(ratio(a['p99_ms'], b['p99_ms']), '.2f')}×** | {fmt(ratio(a['max_ms'], b['max_ms']), '.2f')}× "
                    f"| | | | | {fmt(ratio(a['cpu_ms'], b['cpu_ms']), '.2f')}× | | | |")
    return "\n".join(rows)


def restart_table(w: Workload, runs: list[Run]) -> str:
    mib = lambda v: fmt(None if v is None else v / 1024, '.1f')  # noqa: E731
    rows = [f"{CACHE_KEYS:,} keys (/small?k=1..N) fetched through the proxy ({w.conns} wrk connections), the proxy "
            "stopped (SIGTERM) and started again on the same cache directory. Times from the start of the process; "
            "memory is the PSS of the proxy's processes (nginx: master, worker and cache manager) with shared "
            "memory (nginx's keys zone) counted once at its resident size, read once it stays put for 2 s and "
            "once the cache loader is done (nginx: its loader process has exited, it starts 60 s after nginx, also on "
            "an empty cache; ringway: it has logged `cache loaded`); "
            "**bytes per key** = (after the restart − the same proxy started on an empty cache) ÷ keys. "
            "Medians over rounds.", "",
            "| target | fill req/s (MISSes) | proxy CPU µs per MISS | files on disk | disk MiB | start → first response, empty cache ms "
            "| start → first response ms | **start → first HIT ms** | settled after s | memory empty MiB | after the fill MiB "
            "| after the restart MiB | **bytes per key** | bytes per key after the fill (same process) | RSS bytes per key (ringway) "
            "| sampled keys HIT | backend requests after the restart | runs ok |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    meds = {}
    for t, rs, ok, _errs in _rows(w, runs):
        m = {k: cmed(rs, k) for k in ("fill_rps", "fill_cpu_us", "files", "disk_bytes", "empty_first_response_ms",
                                      "first_response_ms", "first_hit_ms", "settle_s", "empty_mem_kib", "fill_mem_kib",
                                      "mem_kib", "bytes_per_key", "fill_bytes_per_key", "rss_bytes_per_key",
                                      "sample_hits", "sample", "backend_requests_after")}
        meds[t] = m
        rows.append(f"| {t} | {fmt(m['fill_rps'], ',.0f')} | {fmt(m['fill_cpu_us'], '.1f')} | {fmt(m['files'], ',.0f')} "
                    f"| {fmt(None if m['disk_bytes'] is None else m['disk_bytes'] / lt.MIB, ',.0f')} "
                    f"| {fmt(m['empty_first_response_ms'], '.1f')} | {fmt(m['first_response_ms'], '.1f')} "
                    f"| **{fmt(m['first_hit_ms'], '.1f')}** | {fmt(m['settle_s'], '.1f')} | {mib(m['empty_mem_kib'])} "
                    f"| {mib(m['fill_mem_kib'])} | {mib(m['mem_kib'])} | **{fmt(m['bytes_per_key'], ',.0f')}** "
                    f"| {fmt(m['fill_bytes_per_key'], ',.0f')} | {fmt(m['rss_bytes_per_key'], ',.0f')} "
                    f"| {fmt(m['sample_hits'], ',.0f')}/{fmt(m['sample'], ',.0f')} | {fmt(m['backend_requests_after'], ',.0f')} "
                    f"| {ok}/{len(rs)} |")
    if "ringway" in meds and "nginx" in meds:
        a, b = meds["ringway"], meds["nginx"]
        rows.append(f"| **ringway/nginx** | {fmt(ratio(a['fill_rps'], b['fill_rps']), '.2f')}× "
                    f"| {fmt(ratio(a['fill_cpu_us'], b['fill_cpu_us']), '.2f')}× | "
                    f"| {fmt(ratio(a['disk_bytes'], b['disk_bytes']), '.2f')}× "
                    f"| {fmt(ratio(a['empty_first_response_ms'], b['empty_first_response_ms']), '.2f')}× "
                    f"| {fmt(ratio(a['first_response_ms'], b['first_response_ms']), '.2f')}× "
                    f"| **{fmt(ratio(a['first_hit_ms'], b['first_hit_ms']), '.2f')}×** | | "
                    f"| | | **{fmt(ratio(a['bytes_per_key'], b['bytes_per_key']), '.2f')}×** "
                    f"| {fmt(ratio(a['fill_bytes_per_key'], b['fill_bytes_per_key']), '.2f')}× "
                    f"| {fmt(ratio(a['rss_bytes_per_key'], b['rss_bytes_per_key']), '.2f')}× | | | |")
    return "\n".join(rows)


# The chart's two cells for the workloads whose figures are not req/s and CPU per request.
CHART = {"stampede": (("cache.p99_ms", "p99 ms", ",.0f"), ("cache.origin_requests", "origin requests", ",.0f")),
         "restart": (("cache.first_hit_ms", "first HIT ms", ",.1f"), ("cache.bytes_per_key", "bytes per key", ",.0f"))}


def chart_metrics(w: Workload):
    return CHART.get(w.kind)


def metric(r: Run, key: str):
    if key.startswith("cache."):
        return (r.cache or {}).get(key[6:])
    return getattr(r, key)

