#!/usr/bin/env python3
"""Memory per idle connection by kind, for one running server process (standard library only).

    idle_kinds.py PORT N MODE PID     MODE: tls-h2 | tls-h1 | h2c

Opens N connections to 127.0.0.1:PORT (100 connecting at a time): tls-h2 negotiates h2 by ALPN
and sends the preface and SETTINGS (and the ACK), tls-h1 makes one HTTP/1.1 request, h2c
sends the preface in clear; then nothing. Prints the RSS growth of PID per connection 1 s and
3 s after the last one opened. Used to split HTTP/2 idle memory from TLS idle memory.
"""
import asyncio
import ssl
import sys

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
ACK = b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"
port, n, mode, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])
async def one(sem, conns):
    async with sem:
        ctx = None
        if mode in ("tls-h2", "tls-h1"):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname=False; ctx.verify_mode=ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"] if mode=="tls-h2" else ["http/1.1"])
        r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
        if mode == "tls-h1":
            # One request first: TLS 1.3 sends its tickets with the first answer, as h2 does
            # with its SETTINGS, so both hold a used TLS session.
            w.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); await w.drain()
            await r.read(4096)
        else:
            w.write(PREFACE); await w.drain()
            head = await r.readexactly(9); await r.readexactly(int.from_bytes(head[:3],"big"))
            w.write(ACK); await w.drain()
        conns.append((r, w))
async def main():
    sem = asyncio.Semaphore(100); conns = []
    await asyncio.sleep(0.5); r0 = rss()
    await asyncio.gather(*(one(sem, conns) for _ in range(n)))
    await asyncio.sleep(1.0); r1 = rss()
    await asyncio.sleep(2.0); r2 = rss()
    print(f"{mode}: {len(conns)} conns, KiB/conn at 1 s {(r1-r0)/n:.1f}, at 3 s {(r2-r0)/n:.1f}")
asyncio.run(main())
