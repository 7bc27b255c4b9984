#!/usr/bin/env python3
"""Burst client for the `burst` workload of loadtest/lt.py (standard library only).

    burst_client.py PORT N PATH BODY_LEN

Opens N keep-alive connections to 127.0.0.1:PORT (at most 200 connecting at a time) and sends
nothing on them; prints `OPENED <ok> <failed> <seconds> [first error]`. On the line `BURST` on
stdin it sends one `GET PATH` on every open connection in one tight loop (non-blocking sends, no
reads in between: the requests arrive at the proxy all at once), then reads every response
(BODY_LEN-byte body, checked) and keeps the connections open without sending anything more;
prints `BURST <ok> <failed> <send seconds> <seconds until the last answer> [first error]`.
Each line `CHECK` on stdin answers `ALIVE <n>`: connections not closed by the peer. EOF on stdin
closes everything and exits. Every wait is bounded (10 s to connect, 60 s for the answers).
Uses about N + 20 file descriptors.
"""

import errno
import resource
import select
import socket
import sys
import time

CONNECTING = 200
CONNECT_TIMEOUT = 10.0
ANSWER_TIMEOUT = 60.0


def open_all(port: int, n: int) -> tuple[list[socket.socket], list[str], float]:
    """Opens n connections, CONNECTING at a time; returns the open sockets, errors, seconds."""
    t0 = time.monotonic()
    ep = select.epoll()
    pending: dict[int, tuple[socket.socket, float]] = {}
    opened: list[socket.socket] = []
    errors: list[str] = []
    started = 0
    deadline = t0 + CONNECT_TIMEOUT + n / 100  # at least 100 connections a second
    while (started < n or pending) and time.monotonic() < deadline:
        while started < n and len(pending) < CONNECTING:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            started += 1
            r = s.connect_ex(("127.0.0.1", port))
            if r not in (0, errno.EINPROGRESS):
                errors.append(f"connect:{errno.errorcode.get(r, r)}")
                s.close()
                continue
            pending[s.fileno()] = (s, time.monotonic())
            ep.register(s.fileno(), select.EPOLLOUT)
        for fd, _ in ep.poll(0.5):
            s, _ = pending.pop(fd)
            ep.unregister(fd)
            r = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if r:
                errors.append(f"connect:{errno.errorcode.get(r, r)}")
                s.close()
            else:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                opened.append(s)
        now = time.monotonic()
        for fd, (s, at) in list(pending.items()):
            if now - at > CONNECT_TIMEOUT:
                pending.pop(fd)
                ep.unregister(fd)
                errors.append("connect:timeout")
                s.close()
    for fd, (s, _) in pending.items():
        errors.append("connect:deadline")
        s.close()
    errors += ["not_started"] * (n - started)
    ep.close()
    return opened, errors, time.monotonic() - t0


def parse(buf: bytes, body_len: int) -> str | None:
    """'' when buf holds one whole good response, None when more bytes are needed, else an error."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None if len(buf) < 65536 else "head_too_long"
    head = buf[:end]
    status = head.split(b"\r\n", 1)[0]
    length = None
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    if b" 200 " not in status + b" " or length != body_len:
        return f"bad_response:{status!r},content-length:{length}".replace(" ", "_")
    have = len(buf) - end - 4
    if have < length:
        return None
    return "" if have == length else "extra_bytes"


def burst(conns: list[socket.socket], path: str, body_len: int) -> tuple[int, list[str], float, float]:
    """Sends one request on every connection at once, then reads every answer."""
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lt-burst\r\n\r\n".encode()
    t0 = time.monotonic()
    errors: list[str] = []
    waiting: dict[int, tuple[socket.socket, bytearray]] = {}
    for s in conns:
        try:
            if s.send(req) == len(req):
                waiting[s.fileno()] = (s, bytearray())
            else:
                errors.append("short_send")
        except OSError as e:
            errors.append(f"send:{errno.errorcode.get(e.errno, e.errno)}")
    t_sent = time.monotonic() - t0
    ep = select.epoll()
    for fd in waiting:
        ep.register(fd, select.EPOLLIN)
    ok = 0
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while waiting and time.monotonic() < deadline:
        for fd, _ in ep.poll(0.5):
            s, buf = waiting[fd]
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                chunk, err = b"", f"recv:{errno.errorcode.get(e.errno, e.errno)}"
            else:
                err = "closed_before_answer"
            if chunk:
                buf += chunk
                verdict = parse(bytes(buf), body_len)
                if verdict is None:
                    continue
                err = verdict
            del waiting[fd]
            ep.unregister(fd)
            if err:
                errors.append(err)
            else:
                ok += 1
    errors += ["answer_timeout"] * len(waiting)
    ep.close()
    return ok, errors, t_sent, time.monotonic() - t0


def alive(conns: list[socket.socket]) -> int:
    n = 0
    for s in conns:
        try:
            if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                continue  # closed by the peer
        except BlockingIOError:
            pass
        except OSError:
            continue
        n += 1
    return n


def main() -> None:
    port, n, path, body_len = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 50:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
    conns, errors, secs = open_all(port, n)
    print(f"OPENED {len(conns)} {len(errors)} {secs:.2f} {errors[0] if errors else ''}", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "BURST":
            ok, errs, t_sent, t_all = burst(conns, path, body_len)
            print(f"BURST {ok} {len(errs)} {t_sent:.3f} {t_all:.3f} {errs[0] if errs else ''}", flush=True)
        elif cmd == "CHECK":
            print(f"ALIVE {alive(conns)}", flush=True)
    for s in conns:
        s.close()


if __name__ == "__main__":
    main()
