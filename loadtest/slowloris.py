"""The `slowloris` workload of loadtest/lt.py: small-GET load without and then with slow clients.

Per proxy (not direct): start it with short client timeouts (SLOW_TIMEOUT), measure GET /small
with wrk (CONNS_SMALL connections), then open SLOW_CONNS slow connections with
loadtest/slow_client.py (slowloris heads that reconnect when cut, and slow readers of a large
response), measure the same wrk run again with them open, hold them SLOW_HOLD seconds in all, and
count what the proxy cut: slowloris connections closed by it (with their age at the cut, which
should be the header timeout) and slow readers found cut when drained at the end.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time

import lt
from lt import ENV, Run, Workload, fmt, med, ratio

SLOW_CONNS = min(15000, int(ENV.get("SLOW_CONNS", "5000")))
# Slow readers must outlast the proxy's socket send buffer (loopback autotunes it to 4 MiB, which
# holds a whole 1 MiB response: the proxy is done with it and no send timeout can apply), hence
# 16 MiB. Each one parks ~4 MiB in the proxy's socket and, while the proxy streams, ~4 MiB more in
# the backend's; nginx writes ~12 MiB per reader to a temporary file. Hence only 100 by default:
# 500 would hit the kernel's TCP memory limit (tcp_mem) on this 24 GiB machine and stall everyone.
SLOW_READERS = min(SLOW_CONNS, int(ENV.get("SLOW_READERS", "100")))
SLOW_LORIS = SLOW_CONNS - SLOW_READERS
SLOW_INTERVAL = float(ENV.get("SLOW_INTERVAL", "3"))
SLOW_TIMEOUT = int(ENV.get("SLOW_TIMEOUT", "10"))
SLOW_HOLD = int(ENV.get("SLOW_HOLD", str(3 * SLOW_TIMEOUT)))
SLOW_READ_PATH = ENV.get("SLOW_READ_PATH", "/16m")
SLOW_READ_BYTES = int(ENV.get("SLOW_READ_BYTES", "1024"))
SLOW_RCVBUF = int(ENV.get("SLOW_RCVBUF", "4096"))
# After the slow clients are open: the readers' first fill (proxy and backend socket buffers,
# GiBs in all) is a burst of work for the backend; the measurement is of the steady state after it.
SLOW_SETTLE = int(ENV.get("SLOW_SETTLE", "5"))
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "slow_client.py")
OPEN_LIMIT = 120  # seconds for a client to try its first connections
DRAIN_LIMIT = 60


def write_configs(cfgs: dict) -> dict:
    """The three proxies with the same short client timeouts (`send_timeout` bounds writes to
    clients; ringway's `proxy_send_timeout` is set too, as in the first checked-in run, when
    ringway still ignored `send_timeout`)."""
    t = f"{SLOW_TIMEOUT}s"
    return {
        "ringway_slow": lt.write_ringway(os.path.join(lt.WORKDIR, "ringway"), name="ringway-slow.conf",
                                         server_extra=f"client_header_timeout {t}; send_timeout {t}; "
                                                      f"proxy_send_timeout {t};"),
        # room for SLOW_CONNS client connections plus the upstream ones of the slow readers
        "nginx_slow": lt.write_nginx_proxy(cfgs["nginx_dir"], name="nginx-slow.conf", worker_connections=20000,
                                           server_extra=f"client_header_timeout {t}; send_timeout {t};"),
        "haproxy_slow": lt.write_haproxy(os.path.join(lt.WORKDIR, "haproxy"), name="haproxy-slow.cfg",
                                         client_timeout=t),
    }


def per_run() -> int:
    """Seconds one (round, proxy) run may take, for the time budget."""
    return (2 * (lt.WARMUP + lt.DURATION) + OPEN_LIMIT // 4 + max(SLOW_HOLD, SLOW_SETTLE + lt.WARMUP + lt.DURATION + 5)
            + DRAIN_LIMIT // 3 + 15)


def parse_wrk_p50(text: str) -> dict:
    r = lt.parse_wrk(text)
    m = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M)
    r["p50_ms"] = float(m.group(1)) * lt.UNITS_MS[m.group(2)] if m else None
    return r


def read_line(p: subprocess.Popen, timeout: float) -> str:
    r, _, _ = select.select([p.stdout], [], [], timeout)
    return p.stdout.readline() if r else ""


def fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def slow_run(rnd: int, w: Workload, target: str, lua: str, backend: subprocess.Popen,
             cfgs: dict, file_sha: dict) -> Run:
    run = Run(rnd, w.name, target)
    s = run.slow = {}
    proc, port, logfile, _env = lt.start_target(rnd, w, target, cfgs)
    run.log = logfile
    url = f"http://127.0.0.1:{port}{w.path}"
    clients: list[tuple[str, subprocess.Popen]] = []

    def warm() -> None:
        if lt.WARMUP > 0:
            subprocess.run(lt.wrk_cmd(url, w, lua, lt.WARMUP), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=lt.WARMUP + 30)

    try:
        if not lt.started_ok(run, target, proc, port):
            return run
        run.problems += [f"preflight: {p}" for p in lt.preflight(port, file_sha)]
        pid = proc.pid
        warm()
        base = Run(rnd, w.name, target)
        res = lt.measured(base, w, proc, pid, backend, lt.wrk_cmd(url, w, lua, lt.DURATION),
                          f"wrk-{w.name}-{target}-r{rnd}-without.txt", parse_wrk_p50, lt.DURATION)
        s.update(rps_without=base.rps, p50_without=res["p50_ms"], p99_without=base.p99_ms,
                 cpu_without=base.cpu_us_per_req, rss_without=lt.status_kib(pid, "VmRSS") / 1024,
                 fds_without=fds(pid))
        run.problems += [f"(without slow clients) {p}" for p in base.problems]
        run.errors += base.errors
        if proc.poll() is not None:
            return run
        size = lt.FILES.get(SLOW_READ_PATH.lstrip("/"), lt.MIB)
        for kind, n, extra in (("loris", SLOW_LORIS, []),
                               ("reader", SLOW_READERS, [SLOW_READ_PATH, size, SLOW_READ_BYTES, SLOW_RCVBUF])):
            if n:
                argv = ["taskset", "-c", lt.LOAD_CPU, sys.executable, CLIENT, kind, port, n, SLOW_INTERVAL] + extra
                c = subprocess.Popen([str(x) for x in argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
                lt.children.append(c)
                clients.append((kind, c))
        t0 = time.monotonic()
        for kind, c in clients:
            line = read_line(c, max(1.0, OPEN_LIMIT - (time.monotonic() - t0))).split()  # OPENED ok failed s
            if len(line) < 4 or line[0] != "OPENED":
                run.ok = False
                run.problems.append(f"slow client ({kind}) failed: {line} "
                                    f"{c.stderr.read()[-300:] if c.poll() is not None else ''}")
                return run
            s[f"{kind}_opened"], s[f"{kind}_failed"] = int(line[1]), int(line[2])
            if int(line[2]):
                run.problems.append(f"slow client ({kind}): {line[2]} connections failed to open "
                                    f"(first error: {' '.join(line[4:])[:200]})")
        opened = time.monotonic()
        s["open_s"] = opened - t0
        time.sleep(1.0)
        s["rss_slow"] = lt.status_kib(pid, "VmRSS") / 1024 if proc.poll() is None else None
        s["fds_slow"] = fds(pid)
        time.sleep(SLOW_SETTLE)
        warm()
        res = lt.measured(run, w, proc, pid, backend, lt.wrk_cmd(url, w, lua, lt.DURATION),
                          f"wrk-{w.name}-{target}-r{rnd}-with-slow.txt", parse_wrk_p50, lt.DURATION)
        s["p50_with"] = res["p50_ms"]
        left = SLOW_HOLD - (time.monotonic() - opened)
        if left > 0:
            time.sleep(left)
        s["held_s"] = time.monotonic() - opened
        s["fds_end"] = fds(pid) if proc.poll() is None else None
        for kind, c in clients:
            c.stdin.write("STATS\n" if kind == "loris" else "DRAIN\n")
            c.stdin.flush()
            line = read_line(c, DRAIN_LIMIT)
            try:
                s[kind] = json.loads(line)
            except ValueError:
                run.problems.append(f"slow client ({kind}) gave no stats: {line[:200]!r}")
        if proc.poll() is not None:
            run.ok = False
            run.problems.append(f"CRASH: {target} exited with status {proc.returncode} with the slow clients open")
        return run
    except (subprocess.TimeoutExpired, OSError, ValueError) as e:
        run.ok = False
        run.problems.append(f"slowloris run failed: {type(e).__name__}: {e}")
        return run
    finally:
        for _kind, c in clients:
            try:
                c.stdin.close()
                c.wait(20)
            except (OSError, subprocess.TimeoutExpired):
                pass
            lt.stop(c, grace=5.0)
        lt.finish_target(run, target, proc, logfile, cfgs)


def per_conn_kib(s: dict) -> float | None:
    """RSS growth with the slow clients open ÷ slow connections opened, in KiB."""
    n = (s.get("loris_opened") or 0) + (s.get("reader_opened") or 0)
    if not n or s.get("rss_slow") is None or s.get("rss_without") is None:
        return None
    return (s["rss_slow"] - s["rss_without"]) * 1024 / n


def summary(r: Run) -> str:
    s = r.slow or {}
    lo, rd = s.get("loris") or {}, s.get("reader") or {}
    return (f"without slow: {fmt(s.get('rps_without'), ',.0f')} req/s p99 {fmt(s.get('p99_without'), '.2f')} ms; "
            f"loris cut {lo.get('cut', '–')} (median age {fmt(lo.get('cut_age_median'), '.1f')} s), "
            f"readers cut {rd.get('cut', '–')}/{SLOW_READERS}, complete {rd.get('completed', '–')}")


def slow_table(w: Workload, runs: list[Run]) -> str:
    rows = [f"{SLOW_LORIS:,} slowloris connections (one header byte every {SLOW_INTERVAL:g} s, reconnected when "
            f"cut) and {SLOW_READERS:,} slow readers (GET {SLOW_READ_PATH}, SO_RCVBUF {SLOW_RCVBUF}, "
            f"{SLOW_READ_BYTES} bytes read every {SLOW_INTERVAL:g} s) held {SLOW_HOLD} s; client header and send "
            f"timeouts {SLOW_TIMEOUT} s in every proxy (ringway: `client_header_timeout`, `proxy_send_timeout`; "
            f"nginx: `client_header_timeout`, `send_timeout`; haproxy: `timeout http-request`, `timeout client`). "
            f"Medians over rounds; cut counts are the median per run.", "",
            "| target | req/s without / with slow | with ÷ without | p50 ms without / with | p99 ms without / with "
            "| **p99 with ÷ without** | CPU µs/req without / with | RSS MiB without / with slow | KiB per slow conn "
            "| fds with slow "
            "| slowloris cut (median age at cut, s) | slowloris oldest open at end, s | 408s seen "
            "| readers cut / complete / still open (of N) | errors (all rounds) | runs ok |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    meds = {}
    for t in lt.TARGETS:
        rs = [r for r in runs if r.workload == w.name and r.target == t and r.slow is not None]
        if not rs:
            continue

        def m(key, sub=None, rs=rs):
            return med([(r.slow.get(sub) or {}).get(key) if sub else r.slow.get(key) for r in rs])

        x = dict(rps=med([r.rps for r in rs]), p99=med([r.p99_ms for r in rs]), cpu=med([r.cpu_us_per_req for r in rs]),
                 rps0=m("rps_without"), p990=m("p99_without"), p500=m("p50_without"), p50=m("p50_with"),
                 cpu0=m("cpu_without"), rss0=m("rss_without"), rss=m("rss_slow"), fds=m("fds_slow"),
                 per_conn=med([per_conn_kib(r.slow) for r in rs]))
        meds[t] = x
        errs = sum(r.errors for r in rs)
        ok = sum(1 for r in rs if r.ok and not r.problems)
        rows.append(
            f"| {t} | {fmt(x['rps0'], ',.0f')} / {fmt(x['rps'], ',.0f')} | {fmt(ratio(x['rps'], x['rps0']), '.2f')}× "
            f"| {fmt(x['p500'], '.2f')} / {fmt(x['p50'], '.2f')} | {fmt(x['p990'], '.2f')} / {fmt(x['p99'], '.2f')} "
            f"| **{fmt(ratio(x['p99'], x['p990']), '.2f')}×** | {fmt(x['cpu0'], '.1f')} / {fmt(x['cpu'], '.1f')} "
            f"| {fmt(x['rss0'], '.1f')} / {fmt(x['rss'], '.1f')} | {fmt(x['per_conn'], '.1f')} | {fmt(x['fds'], ',.0f')} "
            f"| {fmt(m('cut', 'loris'), ',.0f')} ({fmt(m('cut_age_median', 'loris'), '.1f')}) "
            f"| {fmt(m('oldest_open_s', 'loris'), '.1f')} | {fmt(m('status408', 'loris'), ',.0f')} "
            f"| {fmt(m('cut', 'reader'), ',.0f')} / {fmt(m('completed', 'reader'), ',.0f')} / "
            f"{fmt(m('stalled', 'reader'), ',.0f')} (of {SLOW_READERS:,}) "
            f"| {errs}{' **!**' if errs else ''} | {ok}/{len(rs)} |")
    for a, b in lt.RATIOS:
        if a in meds and b in meds:
            x, y = meds[a], meds[b]
            rows.append(f"| **{a}/{b}** | {fmt(ratio(x['rps0'], y['rps0']), '.2f')}× / {fmt(ratio(x['rps'], y['rps']), '.2f')}× "
                        f"| | | {fmt(ratio(x['p990'], y['p990']), '.2f')}× / {fmt(ratio(x['p99'], y['p99']), '.2f')}× "
                        f"| {fmt(ratio(ratio(x['p99'], x['p990']), ratio(y['p99'], y['p990'])), '.2f')}× "
                        f"| | {fmt(ratio(x['rss'], y['rss']), '.2f')}× (with) | {fmt(ratio(x['per_conn'], y['per_conn']), '.2f')}× "
                        f"| | | | | | | |")
    return "\n".join(rows)
