#!/usr/bin/env python3
"""What metrics scrapes cost (loadtest/README.md, "Scrapes").

ringway proxies GET /small to an upstream group of SCRAPE_SERVERS servers (one nginx backend
listening on that many ports, so every server is up and takes traffic). Then, alternating, for
ROUNDS rounds: wrk's `small` load alone, and the same load with a scraper fetching the
`ringway_metrics` location every SCRAPE_EVERY seconds. Reported: requests/s and p99 of both
(medians, and their ratio), the scrapes' latency during load. Then, without load, SCRAPE_COUNT
scrapes one after another: ringway's CPU per scrape (from /proc), latency, size of the text,
with --workers 1 and 2 (two shards: the scrape asks the other shard for its counters).

Standard library only; uses loadtest/lt.py's helpers and settings (ports, CPUs, DURATION).
"""

from __future__ import annotations

import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lt  # noqa: E402

SERVERS = int(lt.ENV.get("SCRAPE_SERVERS", "100"))
EVERY = float(lt.ENV.get("SCRAPE_EVERY", "1"))
COUNT = int(lt.ENV.get("SCRAPE_COUNT", "200"))
FIRST_PORT = int(lt.ENV.get("SCRAPE_FIRST_PORT", "28200"))


def backend_conf(d: str) -> str:
    listens = "\n".join(f"        listen 127.0.0.1:{FIRST_PORT + i} backlog=4096;" for i in range(SERVERS))
    body = lt.SMALL_BODY.decode().rstrip("\n")
    conf = f"""worker_processes 1;
daemon off;
master_process off;
error_log {d}/backend-error.log error;
pid {d}/backend.pid;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    {lt.TEMP_PATHS.format(d=d)}
    server {{
{listens}
        location = /small {{ return 200 "{body}\\n"; }}
    }}
}}
"""
    path = os.path.join(d, "backend.conf")
    with open(path, "w") as f:
        f.write(conf)
    return path


def ringway_conf(d: str) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{FIRST_PORT + i};" for i in range(SERVERS))
    conf = f"""events {{}}
http {{
    upstream app {{
{servers}
        keepalive {lt.UPSTREAM_KEEPALIVE};
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{lt.RINGWAY_PORT};
        keepalive_requests 1000000;
        keepalive_timeout 300s;
        location = /metrics {{ ringway_metrics; }}
        location / {{ proxy_pass http://app; }}
    }}
}}
"""
    path = os.path.join(d, "ringway.conf")
    with open(path, "w") as f:
        f.write(conf)
    return path


def scrape(conn: http.client.HTTPConnection) -> tuple[float, int]:
    """One scrape on a kept-alive connection: (seconds, body bytes)."""
    t = time.monotonic()
    conn.request("GET", "/metrics")
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError(f"/metrics answered {r.status}")
    return time.monotonic() - t, len(body)


class Scraper(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.times: list[float] = []

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", lt.RINGWAY_PORT, timeout=5)
        while not self.stop.wait(EVERY):
            self.times.append(scrape(conn)[0])


def start_ringway(d: str, conf: str, workers: int):
    p = lt.spawn(["taskset", "-c", lt.PROXY_CPU if workers == 1 else "0,1", lt.RINGWAY_BIN, "-c", conf,
                  "--workers", str(workers)], os.path.join(d, f"ringway-{workers}.log"))
    if not lt.wait_port(lt.RINGWAY_PORT, p):
        raise RuntimeError(f"ringway did not start:\n{lt.tail(os.path.join(d, f'ringway-{workers}.log'))}")
    return p


def wrk_run(d: str, lua: str) -> dict:
    w = lt.ALL_WORKLOADS["small"]
    url = f"http://127.0.0.1:{lt.RINGWAY_PORT}/small"
    if lt.WARMUP:
        subprocess.run(lt.wrk_cmd(url, w, lua, lt.WARMUP), capture_output=True, check=False)
    out = subprocess.run(lt.wrk_cmd(url, w, lua, lt.DURATION), capture_output=True, text=True, check=False)
    r = lt.parse_wrk(out.stdout)
    if r["errors"]:
        raise RuntimeError(f"wrk saw errors: {out.stdout}")
    return r


def idle_cost(d: str, conf: str, workers: int) -> dict:
    p = start_ringway(d, conf, workers)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", lt.RINGWAY_PORT, timeout=5)
        for _ in range(5):
            scrape(conn)
        before = lt.cpu_ticks(p.pid)
        times, size = [], 0
        for _ in range(COUNT):
            t, size = scrape(conn)
            times.append(t)
        ticks = lt.cpu_ticks(p.pid) - before
    finally:
        lt.stop(p)
        lt.wait_port_free(lt.RINGWAY_PORT)
    times.sort()
    return {"workers": workers, "cpu_us": ticks / lt.CLK_TCK / COUNT * 1e6,
            "p50_ms": statistics.median(times) * 1e3, "p99_ms": times[int(len(times) * 0.99) - 1] * 1e3,
            "bytes": size}


def main() -> int:
    os.makedirs(lt.WORKDIR, exist_ok=True)
    d = tempfile.mkdtemp(prefix="scrape-", dir=lt.WORKDIR)
    backend = lt.spawn(["taskset", "-c", lt.LOAD_CPU, lt.NGINX, "-c", backend_conf(d), "-p", d],
                       os.path.join(d, "backend.log"))
    if not lt.wait_port(FIRST_PORT, backend):
        print(lt.tail(os.path.join(d, "backend-error.log")), file=sys.stderr)
        return 1
    conf = ringway_conf(d)
    lua = lt.write_lua(d, lt.ALL_WORKLOADS["small"])
    plain, scraped, during = [], [], []
    p = start_ringway(d, conf, 1)
    try:
        for rnd in range(lt.ROUNDS):
            lt.log(f"round {rnd + 1}/{lt.ROUNDS}: small without scrapes")
            plain.append(wrk_run(d, lua))
            lt.log(f"round {rnd + 1}/{lt.ROUNDS}: small with a scrape every {EVERY:g} s")
            s = Scraper()
            s.start()
            scraped.append(wrk_run(d, lua))
            s.stop.set()
            s.join()
            during.extend(s.times)
    finally:
        lt.stop(p)
        lt.wait_port_free(lt.RINGWAY_PORT)
    costs = [idle_cost(d, conf, w) for w in (1, 2)]
    lt.stop(backend)

    def med(rs, k):
        return statistics.median(r[k] for r in rs)

    rps0, rps1 = med(plain, "rps"), med(scraped, "rps")
    p990, p991 = med(plain, "p99_ms"), med(scraped, "p99_ms")
    during.sort()
    print(f"# Scrapes: {SERVERS} upstream servers, {lt.ROUNDS} rounds x {lt.DURATION} s, one shard\n")
    print("| load | req/s (median) | p99 ms (median) |")
    print("|---|---|---|")
    print(f"| small, no scrapes | {rps0:,.0f} | {p990:.2f} |")
    print(f"| small, a scrape every {EVERY:g} s | {rps1:,.0f} | {p991:.2f} |")
    print(f"| ratio (with / without) | {rps1 / rps0:.3f} | {p991 / p990:.3f} |")
    if during:
        print(f"\nScrapes during load: {len(during)}, latency median "
              f"{statistics.median(during) * 1e3:.2f} ms, max {during[-1] * 1e3:.2f} ms\n")
    print(f"| shards | ringway CPU per scrape (µs, {COUNT} scrapes, no load) | latency p50 ms | p99 ms | text bytes |")
    print("|---|---|---|---|---|")
    for c in costs:
        print(f"| {c['workers']} | {c['cpu_us']:.0f} | {c['p50_ms']:.2f} | {c['p99_ms']:.2f} | {c['bytes']:,} |")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        lt.stop_all()
