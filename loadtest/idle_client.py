#!/usr/bin/env python3
"""Idle keep-alive client for the `idle` workload of loadtest/lt.py (standard library only).

    idle_client.py PORT N PATH BODY_LEN [--tls CA_FILE SNI]

Opens N connections to 127.0.0.1:PORT (at most 200 connecting at a time), sends one
`GET PATH` on each, reads the response (BODY_LEN-byte body, checked), and keeps the connection
open without sending anything more. Then prints `OPENED <ok> <failed> <seconds> [first error]`.
Each line `CHECK` on stdin answers `ALIVE <n>`: connections not closed by the peer. EOF on stdin
closes everything and exits. Uses about N + 20 file descriptors.

With `--tls CA_FILE SNI` (the `tls_idle` workload) each connection is TLS (TLS 1.2 or 1.3, Python's
ssl module, the server's certificate verified against CA_FILE for the name SNI, which is also the
SNI sent); the response is read over TLS and the connection then stays idle the same way.
"""

import asyncio
import resource
import ssl
import sys
import time


async def one(port: int, path: str, body_len: int, sem: asyncio.Semaphore, conns: list, errors: list,
              tls: tuple | None = None) -> None:
    async with sem:
        try:
            if tls:
                ctx, sni = tls
                conn = asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=sni,
                                               ssl_handshake_timeout=10)
            else:
                conn = asyncio.open_connection("127.0.0.1", port)
            reader, writer = await asyncio.wait_for(conn, 10)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lt-idle\r\n\r\n".encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            status = head.split(b"\r\n", 1)[0]
            length = None
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v.strip())
            if b" 200 " not in status + b" " or length != body_len:
                raise ValueError(f"bad response: {status!r}, content-length {length}")
            await asyncio.wait_for(reader.readexactly(length), 10)
            conns.append((reader, writer))
        except Exception as e:  # noqa: BLE001 - reported as a count and the first error
            errors.append(f"{type(e).__name__}:{e}".replace(" ", "_"))


async def main() -> None:
    port, n, path, body_len = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    tls = None
    if len(sys.argv) >= 8 and sys.argv[5] == "--tls":
        ctx = ssl.create_default_context(cafile=sys.argv[6])
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        tls = (ctx, sys.argv[7])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 50:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
    conns: list = []
    errors: list = []
    sem = asyncio.Semaphore(200)
    t0 = time.monotonic()
    await asyncio.gather(*(one(port, path, body_len, sem, conns, errors, tls) for _ in range(n)))
    print(f"OPENED {len(conns)} {len(errors)} {time.monotonic() - t0:.2f} {errors[0] if errors else ''}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        if line.strip() == "CHECK":
            await asyncio.sleep(0)
            alive = sum(1 for r, _ in conns if not r.at_eof())
            print(f"ALIVE {alive}", flush=True)
    for _, w in conns:
        w.close()


if __name__ == "__main__":
    asyncio.run(main())
