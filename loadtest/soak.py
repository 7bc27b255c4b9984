#!/usr/bin/env python3
"""Soak test of ringway (standard library only), called by `loadtest/run soak`.

SOAK_SECONDS of mixed load (loadtest/soak_client.py: small GETs, 1 MiB downloads, 1 MiB uploads,
clients that abort 1 MiB downloads) through ringway in front of an upstream group of two nginx
backends; a config reload every SOAK_RELOAD_EVERY seconds (`ringway -s reload`, each one changing
an `add_header` value that is then polled for) and a graceful restart of one backend (alternately
the first and the second) every SOAK_RESTART_EVERY seconds, offset so that reloads and restarts
never coincide. Every second: ringway's RSS, open fds, threads, CPU, and each client's counters.
Writes OUT_DIR/soak.md, soak.svg and soak.jsonl (see loadtest/soak_report.py for the verdicts).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import lt
import soak_report

ENV = os.environ
SECONDS = int(ENV.get("SOAK_SECONDS", "600"))
RELOAD_EVERY = int(ENV.get("SOAK_RELOAD_EVERY", "60"))
RESTART_EVERY = int(ENV.get("SOAK_RESTART_EVERY", "120"))
RESTART_OFFSET = int(ENV.get("SOAK_RESTART_OFFSET", str(max(1, RESTART_EVERY * 3 // 4))))
WARMUP = int(ENV.get("SOAK_WARMUP", "60"))
WORKERS = int(ENV.get("SOAK_WORKERS", "2"))
BACKEND2_PORT = int(ENV.get("BACKEND2_PORT", "28085"))
# kind: (connections, requests/s for the whole kind, requests per client connection)
LOAD = {
    "small": (int(ENV.get("SOAK_SMALL_CONNS", "16")), float(ENV.get("SOAK_SMALL_RATE", "1000")), 100),
    "download": (int(ENV.get("SOAK_DOWNLOAD_CONNS", "4")), float(ENV.get("SOAK_DOWNLOAD_RATE", "40")), 50),
    "upload": (int(ENV.get("SOAK_UPLOAD_CONNS", "4")), float(ENV.get("SOAK_UPLOAD_RATE", "40")), 50),
    "abort": (int(ENV.get("SOAK_ABORT_CONNS", "2")), float(ENV.get("SOAK_ABORT_RATE", "5")), 1),
}
HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(HERE, "soak_client.py")
PORT = lt.RINGWAY_PORT
START_WALL = time.time()


def rel(t_wall: float) -> float:
    return t_wall - START_WALL


def backend_conf(d: str, port: int, root_dir: str) -> str:
    """A backend like lt.py's, with a master process so that SIGQUIT is a graceful stop (a single
    process nginx exits at once) and its own port, pid, logs and temp paths; files shared."""
    with open(os.path.join(root_dir, "nginx.conf")) as f:
        text = f.read()
    text = text.replace("master_process off;", "master_process on;" + ("\nuser root;" if os.geteuid() == 0 else ""))
    text = text.replace(f"127.0.0.1:{lt.BACKEND_PORT}", f"127.0.0.1:{port}")
    for name in ("error.log", "nginx.pid", "client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        text = text.replace(f"{root_dir}/{name}", f"{d}/{name}")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def ringway_conf(d: str, gen: int) -> str:
    path = os.path.join(d, "ringway.conf")
    with open(path, "w") as f:
        f.write(f"""pid {d}/ringway.pid;
events {{}}
http {{
    upstream app {{
        server 127.0.0.1:{lt.BACKEND_PORT};
        server 127.0.0.1:{BACKEND2_PORT};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{PORT};
        client_max_body_size 2m;
        location / {{
            proxy_pass http://app;
            # changed by every reload; the driver polls for it to see the reload applied
            add_header X-Soak-Gen {gen} always;
        }}
    }}
}}
""")
    return path


class Backend:
    def __init__(self, name: str, port: int, d: str, conf: str) -> None:
        self.name, self.port, self.d, self.conf = name, port, d, conf
        self.proc: subprocess.Popen | None = None

    def start(self) -> bool:
        self.proc = lt.spawn([lt.NGINX, "-p", self.d, "-c", self.conf, "-e", os.path.join(self.d, "error.log")],
                             os.path.join(lt.LOG_DIR, f"soak-{self.name}.log"))
        return lt.wait_port(self.port, self.proc, 10)

    def restart(self) -> str:
        """Graceful stop (SIGQUIT: stop accepting, finish what is in flight), then start again."""
        t0 = time.monotonic()
        code = lt.stop(self.proc, signal.SIGQUIT, grace=30.0)
        stopped = time.monotonic() - t0
        lt.wait_port_free(self.port, 5)
        ok = self.start()
        return (f"{self.name} (:{self.port}) graceful stop took {stopped:.2f} s (exit {code}), "
                f"back after {time.monotonic() - t0:.2f} s" + ("" if ok else " **did not come back**"))


def fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def status(pid: int) -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile", "Threads"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def reload(conf_dir: str, gen: int, problems: list) -> str:
    ringway_conf(conf_dir, gen)
    t0 = time.monotonic()
    r = subprocess.run([lt.RINGWAY_BIN, "-s", "reload", "-c", os.path.join(conf_dir, "ringway.conf")],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        problems.append(f"`ringway -s reload` exited {r.returncode}: {(r.stdout + r.stderr).strip()[:200]}")
        return f"reload to generation {gen}: **`ringway -s reload` failed**"
    import http.client
    while time.monotonic() - t0 < 10:
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
            c.request("GET", "/small")
            resp = c.getresponse()
            resp.read()
            c.close()
            if resp.getheader("X-Soak-Gen") == str(gen):
                return f"reload to generation {gen}: applied after {time.monotonic() - t0:.2f} s"
        except OSError:
            pass
        time.sleep(0.05)
    problems.append(f"reload to generation {gen} not seen within 10 s")
    return f"reload to generation {gen}: **not applied within 10 s**"


def read_client(kind: str, p: subprocess.Popen, latest: dict, errors: list, finals: dict) -> None:
    with open(os.path.join(lt.LOG_DIR, f"soak-client-{kind}.jsonl"), "w") as log:
        for line in p.stdout:
            log.write(line)
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if j.get("ev") == "error":
                errors.append(dict(j, client=kind, t=rel(j["t"]), epoch=j["t"]))
            elif j.get("final"):
                finals[kind] = j
                latest[kind] = j
            else:
                latest[kind] = j


def main() -> int:
    signal.signal(signal.SIGTERM, lt.on_signal)
    signal.signal(signal.SIGINT, lt.on_signal)
    for p in (lt.BACKEND_PORT, BACKEND2_PORT, PORT):
        if not lt.port_free(p):
            print(f"port {p} on 127.0.0.1 is in use (BACKEND_PORT / BACKEND2_PORT / RINGWAY_PORT)", file=sys.stderr)
            return 1
    os.makedirs(lt.LOG_DIR, exist_ok=True)
    for name in os.listdir(lt.LOG_DIR):
        if name.startswith("soak-"):
            os.unlink(os.path.join(lt.LOG_DIR, name))
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    with open("/proc/loadavg") as f:
        load_before = " ".join(f.read().split()[:3])
    b1dir = os.path.join(lt.WORKDIR, "backend")
    os.makedirs(b1dir, exist_ok=True)
    lt.write_backend(b1dir)
    b2dir = os.path.join(lt.WORKDIR, "backend2")
    # backend1 runs from its own prefix too (backend-m), so both read the same files in backend/html
    backends = [Backend("backend1", lt.BACKEND_PORT, b1dir + "-m", backend_conf(b1dir + "-m", lt.BACKEND_PORT, b1dir)),
                Backend("backend2", BACKEND2_PORT, b2dir, backend_conf(b2dir, BACKEND2_PORT, b1dir))]
    with open(os.path.join(b1dir, "html", "1m"), "rb") as f:
        sha_1m = hashlib.sha256(f.read()).hexdigest()
    file_sha = {}
    for name in lt.FILES:
        with open(os.path.join(b1dir, "html", name), "rb") as f:
            file_sha[name] = hashlib.sha256(f.read()).hexdigest()
    rdir = os.path.join(lt.WORKDIR, "ringway-soak")
    os.makedirs(rdir, exist_ok=True)
    gen = 1
    conf = ringway_conf(rdir, gen)
    problems: list[str] = []
    events: list[tuple[float, str, str]] = []  # (t, kind, text)
    samples: list[dict] = []
    latest: dict = {}
    errors: list = []
    finals: dict = {}
    ringway = None
    rw_log = os.path.join(lt.LOG_DIR, "soak-ringway.log")
    exit_status = None
    try:
        for b in backends:
            if not b.start():
                print(f"{b.name} did not start:\n{lt.tail(os.path.join(b.d, 'error.log'))}", file=sys.stderr)
                return 1
            bad = lt.preflight(b.port, file_sha)
            if bad:
                print(f"{b.name} preflight failed: {bad}", file=sys.stderr)
                return 1
        env = dict(os.environ, NO_COLOR="1", RINGWAY_LOG=os.environ.get("RINGWAY_LOG", "info"))
        ringway = lt.spawn([lt.RINGWAY_BIN, "-c", conf, "--workers", str(WORKERS)], rw_log, env)
        if not lt.wait_port(PORT, ringway):
            print(f"ringway did not start:\n{lt.tail(rw_log)}", file=sys.stderr)
            return 1
        problems += [f"preflight: {p}" for p in lt.preflight(PORT, file_sha)]
        pid = ringway.pid
        idle_fds_before = fds(pid)
        lt.log(f"soak: ringway pid {pid} ({WORKERS} workers), backends :{lt.BACKEND_PORT} :{BACKEND2_PORT}, "
               f"{SECONDS} s; fds idle {idle_fds_before}")
        clients = {}
        for kind, (conns, rate, per_conn) in LOAD.items():
            if conns <= 0:
                continue
            p = subprocess.Popen([sys.executable, CLIENT, kind, str(PORT), str(conns), str(rate), str(SECONDS),
                                  str(per_conn), sha_1m], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=open(os.path.join(lt.LOG_DIR, f"soak-client-{kind}.err"), "w"),
                                 text=True, start_new_session=True)
            lt.children.append(p)
            clients[kind] = p
            threading.Thread(target=read_client, args=(kind, p, latest, errors, finals), daemon=True).start()
        t0 = time.monotonic()
        global START_WALL
        START_WALL = time.time()
        schedule = sorted([(t, "reload") for t in range(RELOAD_EVERY, SECONDS, RELOAD_EVERY)] +
                          [(t, "restart") for t in range(RESTART_OFFSET, SECONDS, RESTART_EVERY)])
        restarts = 0

        def run_events() -> None:
            nonlocal gen, restarts
            for at, what in schedule:
                delay = at - (time.monotonic() - t0)
                if delay > 0:
                    time.sleep(delay)
                if ringway.poll() is not None:
                    return
                t = time.monotonic() - t0
                if what == "reload":
                    gen += 1
                    events.append((t, "reload", reload(rdir, gen, problems)))
                else:
                    b = backends[restarts % len(backends)]
                    restarts += 1
                    events.append((t, "restart", b.restart()))
                lt.log(f"soak {t:5.0f}s: {events[-1][2]}")

        ev = threading.Thread(target=run_events, daemon=True)
        ev.start()
        cpu0 = lt.cpu_ticks(pid)
        n = 0
        while time.monotonic() - t0 < SECONDS + 60 and any(c.poll() is None for c in clients.values()):
            n += 1
            time.sleep(max(0.0, t0 + n - time.monotonic()))
            if ringway.poll() is not None:
                problems.append(f"CRASH: ringway exited with status {ringway.returncode} at {time.monotonic() - t0:.0f} s")
                break
            st = status(pid)
            row = {"t": round(time.monotonic() - t0, 2), "rss_kib": st.get("VmRSS"), "anon_kib": st.get("RssAnon"),
                   "threads": st.get("Threads"), "fds": fds(pid),
                   "cpu_s": (lt.cpu_ticks(pid) - cpu0) / lt.CLK_TCK}
            for kind in clients:
                j = latest.get(kind) or {}
                row[kind] = {"ok": j.get("ok", 0), "bytes": j.get("bytes", 0), "err": sum((j.get("err") or {}).values()),
                             "err_by_kind": j.get("err") or {}}
            samples.append(row)
            if n % 60 == 0:
                lt.log(f"soak {row['t']:5.0f}s: RSS {row['rss_kib'] / 1024:.1f} MiB, fds {row['fds']}, "
                       + ", ".join(f"{k} {row[k]['ok']} ok {row[k]['err']} err" for k in clients))
        ev.join(timeout=60)
        for kind, c in clients.items():
            try:
                c.wait(max(1.0, SECONDS + 90 - (time.monotonic() - t0)))
            except subprocess.TimeoutExpired:
                problems.append(f"client {kind} did not finish")
        # Load stopped: what ringway holds at rest again (pooled upstream connections may remain).
        time.sleep(3)
        idle_fds_after = fds(pid) if ringway.poll() is None else None
        rss_after = status(pid).get("VmRSS") if ringway.poll() is None else None
        alive = ringway.poll() is None
        exit_status = lt.stop(ringway, grace=15.0)
        if alive and exit_status != 0:
            problems.append(f"ringway exited with status {exit_status} when stopped (SIGTERM)")
    finally:
        lt.stop_all()
    with open(os.path.join(lt.OUT_DIR, "soak.jsonl"), "w") as f:
        for s in samples:
            f.write(json.dumps(s) + "\n")
    info = dict(started=started, load_before=load_before, machine=lt.machine_info(), seconds=SECONDS,
                reload_every=RELOAD_EVERY, restart_every=RESTART_EVERY, restart_offset=RESTART_OFFSET,
                warmup=WARMUP, workers=WORKERS, load=LOAD, idle_fds_before=idle_fds_before,
                idle_fds_after=idle_fds_after, rss_after_kib=rss_after, exit_status=exit_status,
                ringway_log=rw_log,
                backend_ports=(lt.BACKEND_PORT, BACKEND2_PORT), port=PORT)
    with open(os.path.join(lt.OUT_DIR, "soak-run.json"), "w") as f:
        json.dump(dict(info=info, events=events, errors=errors, finals=finals, problems=problems), f)
    text, svg, failed = soak_report.build(info, samples, events, errors, finals, problems)
    with open(os.path.join(lt.OUT_DIR, "soak.svg"), "w") as f:
        f.write(svg)
    with open(os.path.join(lt.OUT_DIR, "soak.md"), "w") as f:
        f.write(text)
    print(text)
    lt.log(f"report written to {os.path.relpath(os.path.join(lt.OUT_DIR, 'soak.md'), os.getcwd())}")
    return 2 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        lt.stop_all()
