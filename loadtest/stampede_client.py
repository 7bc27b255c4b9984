#!/usr/bin/env python3
"""Stampede client for the `cache_stampede` workload of loadtest/lt.py (standard library only).

    stampede_client.py PORT N PATH BODY_LEN

Opens N keep-alive connections to 127.0.0.1:PORT first (burst_client.open_all: at most 200
connecting at a time; nothing sent), then sends one `GET PATH` on every one of them in one tight
loop of non-blocking sends (no reads in between: N concurrent requests for the same key), and reads
every response with epoll. Each request's latency runs from its own send() to the last byte of its
response (so the time the send loop itself takes is not charged to the late requests). Checks each
response: status 200, Content-Length BODY_LEN and that many bytes. Prints one JSON line:
{opened, open_failed, ok, failed, first_error, send_s, last_answer_s, p50_ms, p90_ms, p99_ms,
max_ms, min_ms, cache_status: {X-Cache-Status value: count}}. Every wait is bounded (10 s to
connect, 60 s for the answers). Uses about N + 20 file descriptors.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import burst_client  # noqa: E402

ANSWER_TIMEOUT = 60.0


def head_of(buf: bytes) -> tuple[bytes, dict[bytes, bytes], int] | None:
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].split(b"\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        hdrs[k.strip().lower()] = v.strip()
    return lines[0], hdrs, end + 4


def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))]


def stampede(conns: list[socket.socket], path: str, body_len: int) -> dict:
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lt-stampede\r\n\r\n".encode()
    errors: list[str] = []
    waiting: dict[int, tuple[socket.socket, bytearray, float]] = {}
    t0 = time.monotonic()
    for s in conns:
        try:
            sent_at = time.monotonic()
            if s.send(req) == len(req):
                waiting[s.fileno()] = (s, bytearray(), sent_at)
            else:
                errors.append("short_send")
        except OSError as e:
            errors.append(f"send:{errno.errorcode.get(e.errno, e.errno)}")
    send_s = time.monotonic() - t0
    ep = select.epoll()
    for fd in waiting:
        ep.register(fd, select.EPOLLIN)
    lat: list[float] = []
    status: dict[str, int] = {}
    deadline = time.monotonic() + ANSWER_TIMEOUT
    last = t0
    while waiting and time.monotonic() < deadline:
        for fd, _ in ep.poll(0.5):
            s, buf, sent_at = waiting[fd]
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                chunk, err = b"", f"recv:{errno.errorcode.get(e.errno, e.errno)}"
            else:
                err = "closed_before_answer"
            now = time.monotonic()
            if chunk:
                buf += chunk
                h = head_of(bytes(buf))
                if h is None:
                    if len(buf) < 65536:
                        continue
                    err = "head_too_long"
                else:
                    first, hdrs, at = h
                    length = int(hdrs.get(b"content-length", b"-1"))
                    if b" 200 " not in first + b" " or length != body_len:
                        err = f"bad_response:{first!r},content-length:{length}".replace(" ", "_")
                    elif len(buf) - at < length:
                        continue
                    elif len(buf) - at > length:
                        err = "extra_bytes"
                    else:
                        err = ""
                        lat.append((now - sent_at) * 1e3)
                        last = now
                        cs = hdrs.get(b"x-cache-status", b"(none)").decode("latin-1")
                        status[cs] = status.get(cs, 0) + 1
            del waiting[fd]
            ep.unregister(fd)
            if err:
                errors.append(err)
    errors += ["answer_timeout"] * len(waiting)
    ep.close()
    return {"ok": len(lat), "failed": len(errors), "first_error": errors[0] if errors else "",
            "send_s": round(send_s, 4), "last_answer_s": round(last - t0, 4),
            "p50_ms": pct(lat, 50), "p90_ms": pct(lat, 90), "p99_ms": pct(lat, 99),
            "max_ms": max(lat) if lat else None, "min_ms": min(lat) if lat else None, "cache_status": status}


def main() -> None:
    port, n, path, body_len = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 50:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
    conns, errors, secs = burst_client.open_all(port, n)
    r = {"opened": len(conns), "open_failed": len(errors), "open_s": round(secs, 3),
         "open_error": errors[0] if errors else ""}
    if conns:
        r.update(stampede(conns, path, body_len))
    print(json.dumps(r), flush=True)
    for s in conns:
        s.close()


if __name__ == "__main__":
    main()
