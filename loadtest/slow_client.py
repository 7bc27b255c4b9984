#!/usr/bin/env python3
"""Slow clients for the `slowloris` workload of loadtest/lt.py (standard library only).

    slow_client.py loris  PORT N INTERVAL
    slow_client.py reader PORT N INTERVAL PATH BODY_LEN READ_BYTES RCVBUF

loris: N connections that each send a request head one byte every INTERVAL seconds and never
finish it (after the request line, header lines `X-Slow-N: x` follow forever). When the proxy
closes one (its header timeout), the slot records the connection's age and connects again, so
the pressure stays at N for the whole phase.

reader: N connections with SO_RCVBUF=RCVBUF that each send `GET PATH` (a BODY_LEN-byte
response) and read READ_BYTES every INTERVAL seconds. A proxy that gives up on one closes its
socket, but the bytes it had queued still sit in front of the FIN, so a reader cannot see the
cut in time; they are classified at the end (`DRAIN`): every reader reads as fast as it can,
and a response that ends short (EOF or reset before BODY_LEN body bytes) was cut; a complete one
was not. Readers are not reconnected.

Prints `OPENED <ok> <failed> <seconds> [first error]` once the first N connections were tried
(at most 200 connecting at a time). Then, on stdin: `STATS` prints one JSON line of counters;
`DRAIN` (readers) classifies as above and prints the JSON line; EOF closes everything and exits.
Uses about N + 20 file descriptors.
"""

import asyncio
import json
import random
import resource
import socket
import statistics
import sys
import time

ADDR = "127.0.0.1"


class Stats:
    def __init__(self) -> None:
        self.open = 0
        self.cut = 0
        self.cut_ages: list[float] = []
        self.completed = 0
        self.connect_errors = 0
        self.other_errors = 0
        self.first_error = ""
        self.status408 = 0
        self.born: dict[int, float] = {}  # open loris connections: id -> connected at

    def error(self, e: BaseException, connect: bool) -> None:
        if connect:
            self.connect_errors += 1
        else:
            self.other_errors += 1
        if not self.first_error:
            self.first_error = f"{type(e).__name__}: {e}"[:200]

    def json(self, **extra) -> str:
        ages = sorted(self.cut_ages)
        q = (lambda p: round(ages[min(len(ages) - 1, int(p * len(ages)))], 2)) if ages else (lambda p: None)
        return json.dumps(dict(open=self.open, cut=self.cut, cut_age_p10=q(0.1),
                               cut_age_median=round(statistics.median(ages), 2) if ages else None,
                               cut_age_p90=q(0.9), completed=self.completed, connect_errors=self.connect_errors,
                               other_errors=self.other_errors, status408=self.status408,
                               oldest_open_s=round(time.monotonic() - min(self.born.values()), 1) if self.born else None,
                               first_error=self.first_error, **extra))


async def connect(rcvbuf: int = 0) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(s, (ADDR, PORT)), 10)
    except BaseException:
        s.close()
        raise
    return s


async def loris_slot(st: Stats, interval: float, first: asyncio.Future, sem: asyncio.Semaphore) -> None:
    loop = asyncio.get_running_loop()
    initial = True
    while True:
        try:
            async with sem:
                s = await connect()
        except Exception as e:  # noqa: BLE001 - counted
            st.error(e, True)
            if initial:
                first.set_result(False)
                initial = False
            await asyncio.sleep(1.0)
            continue
        st.open += 1
        if initial:
            first.set_result(True)
            initial = False
        born = time.monotonic()
        st.born[id(s)] = born
        head = b"GET /small HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lt-slowloris\r\n"
        n, i = 0, 0
        try:
            await asyncio.sleep(random.random() * interval)  # spread the sends over the interval
            while True:
                if i >= len(head):
                    n += 1
                    head, i = f"X-Slow-{n}: x\r\n".encode(), 0
                await loop.sock_sendall(s, head[i:i + 1])
                i += 1
                try:
                    got = await asyncio.wait_for(loop.sock_recv(s, 4096), interval)
                except asyncio.TimeoutError:
                    continue
                # The proxy answered (408) or closed: read to EOF, then it is a cut.
                if got.startswith(b"HTTP/1.1 408") or got.startswith(b"HTTP/1.0 408"):
                    st.status408 += 1
                while got:
                    got = await asyncio.wait_for(loop.sock_recv(s, 4096), 10)
                break
        except (ConnectionError, OSError, asyncio.TimeoutError):
            pass  # reset or broken pipe: the proxy closed it
        st.open -= 1
        del st.born[id(s)]
        st.cut += 1
        st.cut_ages.append(time.monotonic() - born)
        s.close()
        await asyncio.sleep(random.random() * 0.5)


class Reader:
    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.buf = bytearray()
        self.eof = False
        self.error: BaseException | None = None


async def reader_slot(st: Stats, r: Reader, path: str, interval: float, read_bytes: int, rcvbuf: int,
                      first: asyncio.Future, sem: asyncio.Semaphore) -> None:
    loop = asyncio.get_running_loop()
    try:
        async with sem:
            r.sock = await connect(rcvbuf)
        await loop.sock_sendall(r.sock, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lt-slowread\r\n\r\n".encode())
    except Exception as e:  # noqa: BLE001 - counted
        st.error(e, True)
        r.error = e
        first.set_result(False)
        return
    st.open += 1
    first.set_result(True)
    await asyncio.sleep(random.random() * interval)
    while not r.eof:
        try:
            got = await loop.sock_recv(r.sock, read_bytes)
        except (ConnectionError, OSError) as e:
            r.error, r.eof = e, True
            break
        if not got:
            r.eof = True
            break
        r.buf += got
        await asyncio.sleep(interval)


def body_received(buf: bytearray) -> tuple[int, int | None]:
    """(body bytes received, Content-Length) of a response in buf, or (0, None) without a head."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return 0, None
    length = None
    for line in bytes(buf[:end]).split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    return len(buf) - end - 4, length


async def drain(st: Stats, readers: list[Reader], tasks: list[asyncio.Task], body_len: int) -> str:
    """Reads every reader to its end (or EOF) as fast as possible and classifies it."""
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    loop = asyncio.get_running_loop()
    t0 = time.monotonic()

    async def one(r: Reader) -> None:
        if r.sock is None:
            return
        while not r.eof and body_received(r.buf)[0] < body_len:
            try:
                got = await asyncio.wait_for(loop.sock_recv(r.sock, 1 << 16), 20)
            except asyncio.TimeoutError:
                return  # still open but silent: neither cut nor complete
            except (ConnectionError, OSError) as e:
                r.error, r.eof = e, True
                return
            if not got:
                r.eof = True
            r.buf += got

    await asyncio.gather(*(one(r) for r in readers))
    stalled = 0
    for r in readers:
        if r.sock is None:
            continue
        got, length = body_received(r.buf)
        if length == body_len and got >= body_len:
            st.completed += 1
        elif r.eof:
            st.cut += 1
        else:
            stalled += 1
        r.sock.close()
        r.sock = None
    st.open = 0
    return st.json(drain_s=round(time.monotonic() - t0, 2), stalled=stalled)


async def main() -> None:
    global PORT
    kind, PORT, n, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 50:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
    st = Stats()
    sem = asyncio.Semaphore(200)
    loop = asyncio.get_running_loop()
    firsts = [loop.create_future() for _ in range(n)]
    readers: list[Reader] = []
    body_len = 0
    t0 = time.monotonic()
    if kind == "loris":
        tasks = [asyncio.create_task(loris_slot(st, interval, f, sem)) for f in firsts]
    elif kind == "reader":
        path, body_len, read_bytes, rcvbuf = sys.argv[5], int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
        readers = [Reader() for _ in range(n)]
        tasks = [asyncio.create_task(reader_slot(st, r, path, interval, read_bytes, rcvbuf, f, sem))
                 for r, f in zip(readers, firsts)]
    else:
        raise SystemExit(f"unknown kind {kind}")
    oks = await asyncio.gather(*firsts)
    ok = sum(1 for x in oks if x)
    print(f"OPENED {ok} {n - ok} {time.monotonic() - t0:.2f} {st.first_error.replace(' ', '_')}", flush=True)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        cmd = line.strip()
        if cmd == "STATS":
            print(st.json(), flush=True)
        elif cmd == "DRAIN" and kind == "reader":
            print(await drain(st, readers, tasks, body_len), flush=True)
    for t in tasks:
        t.cancel()
    for r in readers:
        if r.sock is not None:
            r.sock.close()


PORT = 0

if __name__ == "__main__":
    asyncio.run(main())
