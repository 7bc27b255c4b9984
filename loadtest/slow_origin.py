#!/usr/bin/env python3
"""Slow origin for the `cache_stampede` workload of loadtest/lt.py (standard library, asyncio).

    slow_origin.py PORT DELAY_S BODY_LEN

An HTTP/1.1 server on 127.0.0.1:PORT (keep-alive) that answers every GET after DELAY_S seconds
with 200 and a BODY_LEN-byte body of `x` ending in a newline (`Cache-Control: max-age=3600`), and
counts the requests it got. `GET /lt_count` answers the count at once (not counted itself) as
`<requests> <connections>`: the requests and the connections accepted since start. Prints
`LISTENING` once it accepts connections. Stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import resource
import signal
import sys

PORT, DELAY, BODY_LEN = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
BODY = b"x" * (BODY_LEN - 1) + b"\n"
requests = 0
connections = 0


def answer(body: bytes, extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 200 OK\r\nServer: lt-slow-origin\r\nContent-Type: text/plain\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    global requests, connections
    connections += 1
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0].split()
            path = line[1] if len(line) >= 2 else b"/"
            length = 0
            for h in head.split(b"\r\n")[1:]:
                k, _, v = h.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v.strip())
            if length:
                await reader.readexactly(length)
            if path == b"/lt_count":
                writer.write(answer(f"{requests} {connections}\n".encode(), b"Cache-Control: no-store\r\n"))
            else:
                requests += 1
                await asyncio.sleep(DELAY)
                writer.write(answer(BODY, b"Cache-Control: max-age=3600\r\n"))
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = await asyncio.start_server(serve, "127.0.0.1", PORT, backlog=4096, reuse_address=True)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    print("LISTENING", flush=True)
    async with server:
        await stop


if __name__ == "__main__":
    asyncio.run(main())
