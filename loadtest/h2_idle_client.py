#!/usr/bin/env python3
"""Idle HTTP/2 connections for loadtest/h2.sh's memory workload (standard library only).

    h2_idle_client.py PORT N [SNI [PATH]]

Opens N TLS connections to 127.0.0.1:PORT (at most 200 connecting at a time; certificate not
verified; ALPN h2, which the server must select), sends the HTTP/2 preface and an empty
SETTINGS frame on each, waits for the server's SETTINGS and acknowledges it, then keeps the
connection open without sending anything more (no request). With PATH, each connection first
makes one GET request for PATH (its header fields indexed in HPACK's dynamic table, as browsers
and curl send them) and reads the whole answer, then stays open. Prints
`OPENED <ok> <failed> <seconds> [first error]`. Each `CHECK` line on stdin answers
`ALIVE <n>`: connections the server has not closed. EOF on stdin closes everything and exits.
"""

import asyncio
import resource
import ssl
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
SETTINGS_ACK = b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"


def hpack_literal(index, value):
    """A field with the static table's name INDEX (< 64) and a literal value, indexed."""
    v = value.encode()
    assert index < 64 and len(v) < 127
    return bytes([0x40 | index, len(v)]) + v


def get_request(path, sni):
    """HEADERS (END_STREAM, END_HEADERS) on stream 1: GET https://SNI/PATH."""
    block = (b"\x82\x87"  # :method GET, :scheme https
             + hpack_literal(4, path) + hpack_literal(1, sni)  # :path, :authority
             + hpack_literal(58, "h2_idle_client/1") + hpack_literal(19, "*/*"))  # user-agent, accept
    return len(block).to_bytes(3, "big") + b"\x01\x05" + (1).to_bytes(4, "big") + block


async def read_answer(reader):
    """Reads frames until stream 1 ends (HEADERS or DATA with END_STREAM)."""
    while True:
        ftype, flags, _ = await read_frame(reader)
        if ftype in (0, 1) and flags & 1:
            return
        if ftype in (3, 7):  # RST_STREAM, GOAWAY
            raise ValueError(f"frame type {ftype}")


async def read_frame(reader):
    head = await reader.readexactly(9)
    payload = await reader.readexactly(int.from_bytes(head[:3], "big"))
    return head[3], head[4], payload


async def drain(reader):
    """Reads (and drops) what the server sends until it closes: PING, GOAWAY, ..."""
    try:
        while await reader.read(65536):
            pass
    except (OSError, ssl.SSLError):
        pass


async def one(port, ctx, sni, path, sem, conns, errors):
    async with sem:
        try:
            conn = asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=sni,
                                           ssl_handshake_timeout=10)
            reader, writer = await asyncio.wait_for(conn, 10)
            alpn = writer.get_extra_info("ssl_object").selected_alpn_protocol()
            if alpn != "h2":
                raise ValueError(f"ALPN {alpn!r}")
            writer.write(PREFACE + EMPTY_SETTINGS)
            while True:  # the server's SETTINGS (not an ACK) comes first, by the RFC
                ftype, flags, _ = await asyncio.wait_for(read_frame(reader), 10)
                if ftype == 4 and not flags & 1:
                    break
            writer.write(SETTINGS_ACK)
            if path:
                writer.write(get_request(path, sni))
                await writer.drain()
                await asyncio.wait_for(read_answer(reader), 10)
            await writer.drain()
            conns.append((asyncio.ensure_future(drain(reader)), writer))
        except Exception as e:  # noqa: BLE001 - reported as a count and the first error
            errors.append(f"{type(e).__name__}:{e}".replace(" ", "_"))


async def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    sni = sys.argv[3] if len(sys.argv) > 3 else "localhost"
    path = sys.argv[4] if len(sys.argv) > 4 else ""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 50:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
    conns, errors = [], []
    sem = asyncio.Semaphore(200)
    t0 = time.monotonic()
    await asyncio.gather(*(one(port, ctx, sni, path, sem, conns, errors) for _ in range(n)))
    print(f"OPENED {len(conns)} {len(errors)} {time.monotonic() - t0:.2f} {errors[0] if errors else ''}",
          flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        if line.strip() == "CHECK":
            await asyncio.sleep(0.2)  # let pending closes (and the server's frames) be read
            alive = sum(1 for t, _ in conns if not t.done())
            print(f"ALIVE {alive}", flush=True)
    for t, w in conns:
        t.cancel()
        w.close()


if __name__ == "__main__":
    asyncio.run(main())
