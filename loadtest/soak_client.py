#!/usr/bin/env python3
"""Load client for the soak (loadtest/soak.py), standard library only.

    soak_client.py KIND PORT CONNS RATE SECONDS REQS_PER_CONN [SHA256]

KIND: small (GET /small, 100-byte body checked byte for byte), download (GET /1m, SHA256 of the
body checked), upload (POST of 1 MiB to /upload_check, which reads it all and answers with its
length), abort (GET /1m, read the head and 64 KiB, then close: a client going away mid-response;
not an error). CONNS keep-alive connections share RATE requests/s (0: as fast as they can); each
connection is closed by the client after REQS_PER_CONN requests (the last one carries
`Connection: close`) and a new one opened, so accept/close paths churn too.

Prints one JSON line per second with cumulative counters ({"t": epoch, "ok", "bytes", "err":
{kind: n}, "lat_max_ms"}), a line {"ev": "error", "t": epoch, "kind", "detail"} for each of the
first 500 errors as it happens, and at the end {"final": true, ..., "p50_ms", "p99_ms", "max_ms"}.
Error kinds: connect_refused, connect_timeout, connect_error, reset_while_sending,
closed_before_response, reset_before_response, timeout, status_NNN, bad_response, truncated_body,
body_mismatch.
"""

import asyncio
import hashlib
import json
import os
import sys
import time

HOST = "127.0.0.1"
MIB = 1024 * 1024
SMALL_BODY = (b"ringway load test: small response " * 3)[:99] + b"\n"
REQ_TIMEOUT = 30.0  # longer than any failover: a slow answer is a timeout, not a hang


class Failed(Exception):
    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind)
        self.kind, self.detail = kind, detail


class Counters:
    def __init__(self) -> None:
        self.ok = 0
        self.bytes = 0
        self.err: dict[str, int] = {}
        self.lat: list[float] = []
        self.lat_max = 0.0
        self.reported = 0

    def error(self, kind: str, detail: str) -> None:
        self.err[kind] = self.err.get(kind, 0) + 1
        if self.reported < 500:
            self.reported += 1
            print(json.dumps({"ev": "error", "t": time.time(), "kind": kind, "detail": detail[:200]}), flush=True)


class Pacer:
    """Spreads RATE requests/s over all connections of the process (no catch-up bursts)."""

    def __init__(self, rate: float) -> None:
        self.gap = 1.0 / rate if rate > 0 else 0.0
        self.next = time.monotonic()

    async def wait(self) -> None:
        if not self.gap:
            return
        now = time.monotonic()
        t = max(now, self.next)
        self.next = t + self.gap
        if t > now:
            await asyncio.sleep(t - now)


async def read_head(r: asyncio.StreamReader) -> tuple[int, int | None, bool]:
    try:
        head = await r.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        raise Failed("closed_before_response" if not e.partial else "bad_response",
                     f"{len(e.partial)} bytes of head") from None
    except asyncio.LimitOverrunError:
        raise Failed("bad_response", "head too long") from None
    except ConnectionResetError as e:
        raise Failed("reset_before_response", str(e)) from None
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise Failed("bad_response", repr(lines[0][:80]))
    length, close = None, parts[0] == b"HTTP/1.0"
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        k, v = k.strip().lower(), v.strip().lower()
        if k == b"content-length":
            length = int(v)
        elif k == b"connection":
            close = b"close" in v
    return int(parts[1]), length, close


async def read_body(r: asyncio.StreamReader, n: int) -> bytes:
    try:
        return await r.readexactly(n)
    except asyncio.IncompleteReadError as e:
        raise Failed("truncated_body", f"{len(e.partial)} of {n} bytes") from None
    except ConnectionResetError:
        raise Failed("truncated_body", f"reset before {n} bytes") from None


async def one(kind: str, r, w, last: bool, body: bytes, sha: str) -> tuple[int, bool]:
    """One request on an open connection: (bytes received, server wants close)."""
    conn = "Connection: close\r\n" if last else ""
    if kind == "upload":
        w.write(f"POST /upload_check HTTP/1.1\r\nHost: soak\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {len(body)}\r\n{conn}\r\n".encode())
        w.write(body)
    else:
        path = "/small" if kind == "small" else "/1m"
        w.write(f"GET {path} HTTP/1.1\r\nHost: soak\r\n{conn}\r\n".encode())
    try:
        await w.drain()
    except (ConnectionError, OSError) as e:
        raise Failed("reset_while_sending", f"{type(e).__name__}: {e}") from None
    status, length, close = await read_head(r)
    if status != 200:
        raise Failed(f"status_{status}", "")
    if length is None:
        raise Failed("bad_response", "no Content-Length")
    if kind == "abort":
        await read_body(r, min(length, 64 * 1024))
        return 64 * 1024, True
    got = await read_body(r, length)
    if kind == "small":
        ok = got == SMALL_BODY
    elif kind == "download":
        ok = length == MIB and hashlib.sha256(got).hexdigest() == sha
    else:
        ok = got.strip() == str(len(body)).encode()
    if not ok:
        raise Failed("body_mismatch", f"{length} bytes{'' if length > 200 else ' ' + repr(got[:60])}")
    return length, close


async def conn_loop(kind: str, port: int, per_conn: int, stop_at: float, pacer: Pacer, c: Counters,
                    body: bytes, sha: str) -> None:
    while time.monotonic() < stop_at:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(HOST, port, limit=1 << 20), 10)
        except ConnectionRefusedError as e:
            c.error("connect_refused", str(e))
            await asyncio.sleep(0.2)
            continue
        except asyncio.TimeoutError:
            c.error("connect_timeout", "")
            continue
        except OSError as e:
            c.error("connect_error", str(e))
            await asyncio.sleep(0.2)
            continue
        try:
            for i in range(per_conn):
                await pacer.wait()
                if time.monotonic() >= stop_at:
                    break
                t0 = time.monotonic()
                last = i == per_conn - 1 or kind == "abort"
                try:
                    n, close = await asyncio.wait_for(one(kind, r, w, last, body, sha), REQ_TIMEOUT)
                except asyncio.TimeoutError:
                    raise Failed("timeout", f"no complete answer in {REQ_TIMEOUT:.0f} s") from None
                except (ConnectionError, OSError) as e:
                    raise Failed("reset_before_response", f"{type(e).__name__}: {e}") from None
                dt = time.monotonic() - t0
                c.ok += 1
                c.bytes += n
                c.lat.append(dt)
                c.lat_max = max(c.lat_max, dt)
                if close:
                    break
        except Failed as f:
            c.error(f.kind, f.detail)
        finally:
            w.close()


async def main() -> None:
    kind, port, conns, rate, seconds, per_conn = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                                  float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]))
    sha = sys.argv[7] if len(sys.argv) > 7 else ""
    if kind not in ("small", "download", "upload", "abort"):
        raise SystemExit(f"unknown kind {kind}")
    body = os.urandom(MIB) if kind == "upload" else b""
    c = Counters()
    pacer = Pacer(rate)
    stop_at = time.monotonic() + seconds
    tasks = [asyncio.create_task(conn_loop(kind, port, per_conn, stop_at, pacer, c, body, sha)) for _ in range(conns)]

    async def ticker() -> None:
        while True:
            await asyncio.sleep(1.0)
            print(json.dumps({"t": time.time(), "ok": c.ok, "bytes": c.bytes, "err": c.err,
                              "lat_max_ms": round(c.lat_max * 1e3, 2)}), flush=True)
            c.lat_max = 0.0

    tick = asyncio.create_task(ticker())
    await asyncio.gather(*tasks)
    tick.cancel()
    lat = sorted(c.lat)
    q = (lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3, 2)) if lat else (lambda p: None)
    print(json.dumps({"final": True, "t": time.time(), "ok": c.ok, "bytes": c.bytes, "err": c.err,
                      "p50_ms": q(0.5), "p99_ms": q(0.99), "max_ms": round(lat[-1] * 1e3, 2) if lat else None}),
          flush=True)


if __name__ == "__main__":
    asyncio.run(main())
