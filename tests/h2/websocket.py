#!/usr/bin/env python3
"""WebSocket over HTTP/2 (RFC 8441, extended CONNECT) against a proxy, with the `h2` library.

    websocket.py HOST PORT [--tls] [--case NAME ...] [-v]

Prints `ok NAME` or `FAIL NAME: why` per case; exits 1 when any failed. The proxy's upstream
must serve (tests/http2.rs's `ws_backend` does):
  /ws/echo    a WebSocket handshake checked strictly (Upgrade, Connection, a 16-byte key,
              version 13), answered 101 with the right Sec-WebSocket-Accept and
              Sec-WebSocket-Protocol: chat, then "HELLO", then an echo of every byte;
  /ws/bye     101, "BYE", then the connection closed;
  /ws/hold    101, then nothing (the test counts when its connection closes);
  /ws/deny    403;   /ws/plain  200 with a body (the upgrade ignored);
  /ws/badkey  101 with a Sec-WebSocket-Accept for another key;
  /           200 (any short body).

The cases:
  settings      the server's SETTINGS have ENABLE_CONNECT_PROTOCOL = 1.
  echo          CONNECT :protocol websocket on /ws/echo: 200, Sec-WebSocket-Protocol kept,
                no HTTP/1.1 handshake fields; "HELLO", then what is sent comes back: a short
                message, then 300 KiB (more than the 64 KiB windows, both ways), while a GET /
                on the same connection is answered; the client's END_STREAM ends the stream.
  upstream_ends the upstream's close ends the stream (END_STREAM after "BYE").
  client_resets a tunnel on /ws/hold reset by the client (RST_STREAM CANCEL); the connection
                still serves a GET (the test checks that the upstream's connection closed).
  refused       the upstream's 403 reaches the client as 403.
  not_upgraded  an upstream 200 to the upgrade becomes 502 (a 2xx would say the tunnel opened).
  bad_accept    a 101 with the wrong Sec-WebSocket-Accept becomes 502.
  malformed     CONNECT without :protocol: 405; :protocol on a GET: RST_STREAM(PROTOCOL_ERROR);
                a :protocol that is not a token: 400.
  quiet         (only with --case, against a proxy_read_timeout of about 1 s) a tunnel on
                /ws/hold that carries nothing ends with END_STREAM after the timeout.
"""

import argparse
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings


class CaseFailed(Exception):
    pass


class Conn:
    def __init__(self, args, validate=True):
        sock = socket.create_connection((args.host, args.port), timeout=5)
        if args.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        cfg = h2.config.H2Configuration(client_side=True, validate_outbound_headers=validate,
                                        normalize_outbound_headers=validate)
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.h2.initiate_connection()
        self.flush()
        self.streams = {}
        self.settings = None
        while self.settings is None:
            self.pump()

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, timeout=5.0):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 18)
        except socket.timeout:
            raise CaseFailed(f"nothing from the server within {timeout} s")
        if not data:
            raise CaseFailed("connection closed by the server")
        for ev in self.h2.receive_data(data):
            sid = getattr(ev, "stream_id", None)
            s = self.streams.get(sid)
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                self.settings = {int(k): v.new_value for k, v in ev.changed_settings.items()}
            elif isinstance(ev, h2.events.ResponseReceived) and s is not None:
                s["headers"] = {k.decode(): v.decode() for k, v in ev.headers}
            elif isinstance(ev, h2.events.DataReceived) and s is not None:
                s["data"] += ev.data
                self.h2.acknowledge_received_data(ev.flow_controlled_length, sid)
            elif isinstance(ev, h2.events.StreamEnded) and s is not None:
                s["ended"] = True
            elif isinstance(ev, h2.events.StreamReset) and s is not None:
                s["reset"] = ev.error_code
            elif isinstance(ev, h2.events.ConnectionTerminated):
                raise CaseFailed(f"GOAWAY {ev.error_code}")
        self.flush()

    def open(self, headers, end_stream=False):
        sid = self.h2.get_next_available_stream_id()
        self.streams[sid] = {"headers": None, "data": bytearray(), "ended": False, "reset": None}
        self.h2.send_headers(sid, headers, end_stream=end_stream)
        self.flush()
        return sid

    def open_tunnel(self, path, extra=()):
        """An extended CONNECT on path, answered 200: (stream id, its record)."""
        sid = self.open(connect_headers(path, extra=extra))
        s = self.streams[sid]
        self.until("response", lambda: s["headers"] is not None or s["reset"] is not None)
        if (s["headers"] or {}).get(":status") != "200":
            raise CaseFailed(f"{path} answered {s['headers']}, reset {s['reset']}")
        return sid, s

    def until(self, what, check, timeout=5.0):
        deadline = time.monotonic() + timeout
        while not check():
            left = deadline - time.monotonic()
            if left <= 0:
                raise CaseFailed(f"no {what} within {timeout} s")
            self.pump(left)

    def send(self, sid, data):
        """All of data, as the stream's and the connection's windows allow."""
        off = 0
        while off < len(data):
            room = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size)
            if room <= 0:
                self.pump()
                continue
            n = min(room, len(data) - off)
            self.h2.send_data(sid, data[off:off + n])
            off += n
            self.flush()

    def close(self):
        self.sock.close()


GET_ROOT = [(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", "localhost")]


def connect_headers(path, protocol="websocket", extra=()):
    return [(":method", "CONNECT"), (":protocol", protocol), (":scheme", "https"),
            (":path", path), (":authority", "localhost"), ("sec-websocket-version", "13"),
            *extra]


class Cases:
    def __init__(self, args):
        self.args = args

    def status_of(self, headers, validate=True):
        c = Conn(self.args, validate)
        try:
            sid = c.open(headers, end_stream=False)
            s = c.streams[sid]
            c.until("answer", lambda: s["headers"] is not None or s["reset"] is not None)
            return s
        finally:
            c.close()

    def case_settings(self):
        c = Conn(self.args)
        try:
            got = c.settings.get(8)  # SETTINGS_ENABLE_CONNECT_PROTOCOL
            if got != 1:
                raise CaseFailed(f"ENABLE_CONNECT_PROTOCOL is {got!r} in {c.settings}")
        finally:
            c.close()

    def case_echo(self):
        c = Conn(self.args)
        try:
            sid, s = c.open_tunnel("/ws/echo", extra=[("sec-websocket-protocol", "chat")])
            h = s["headers"]
            if h.get("sec-websocket-protocol") != "chat":
                raise CaseFailed(f"Sec-WebSocket-Protocol lost: {h}")
            for gone in ("sec-websocket-accept", "upgrade", "connection"):
                if gone in h:
                    raise CaseFailed(f"{gone} in the HTTP/2 answer: {h}")
            c.until("HELLO", lambda: bytes(s["data"]) == b"HELLO")
            del s["data"][:]
            c.send(sid, b"ping")
            c.until("echo of ping", lambda: bytes(s["data"]) == b"ping")
            del s["data"][:]
            big = bytes((i * 7 + i // 251) % 256 for i in range(300 * 1024))
            get = c.open(GET_ROOT, end_stream=True)
            c.send(sid, big)
            c.until("GET / beside the tunnel", lambda: c.streams[get]["ended"])
            if c.streams[get]["headers"].get(":status") != "200":
                raise CaseFailed(f"GET / beside the tunnel: {c.streams[get]['headers']}")
            c.until("echo of 300 KiB", lambda: len(s["data"]) >= len(big))
            if bytes(s["data"]) != big:
                raise CaseFailed("the 300 KiB came back changed")
            if s["ended"] or s["reset"] is not None:
                raise CaseFailed("the tunnel ended before the client ended it")
            c.h2.end_stream(sid)
            c.flush()
            c.until("END_STREAM after the client's", lambda: s["ended"] or s["reset"] is not None)
            if s["reset"] is not None:
                raise CaseFailed(f"RST_STREAM {s['reset']} instead of END_STREAM")
        finally:
            c.close()

    def case_upstream_ends(self):
        c = Conn(self.args)
        try:
            sid = c.open(connect_headers("/ws/bye"))
            s = c.streams[sid]
            c.until("END_STREAM", lambda: s["ended"] or s["reset"] is not None)
            if (s["headers"] or {}).get(":status") != "200" or bytes(s["data"]) != b"BYE":
                raise CaseFailed(f"{s['headers']} {bytes(s['data'])!r} reset {s['reset']}")
        finally:
            c.close()

    def case_client_resets(self):
        c = Conn(self.args)
        try:
            sid, s = c.open_tunnel("/ws/hold")
            c.h2.reset_stream(sid, error_code=8)  # CANCEL
            c.flush()
            # The connection goes on serving.
            get = c.open(GET_ROOT, end_stream=True)
            c.until("GET / after the reset", lambda: c.streams[get]["ended"])
        finally:
            c.close()

    def case_quiet(self):
        c = Conn(self.args)
        try:
            sid, s = c.open_tunnel("/ws/hold")
            t0 = time.monotonic()
            c.until("END_STREAM of a quiet tunnel", lambda: s["ended"] or s["reset"] is not None, 5.0)
            # END_STREAM, then RST_STREAM(NO_ERROR) asks the client to stop sending (RFC 9113
            # §8.1): both fine. Any other reset is not.
            if not s["ended"] or s["reset"] not in (None, 0):
                raise CaseFailed(f"ended {s['ended']}, RST_STREAM {s['reset']}")
            if time.monotonic() - t0 < 0.8:
                raise CaseFailed(f"ended after {time.monotonic() - t0:.2f} s, before the timeout")
        finally:
            c.close()

    def expect_status(self, path, want):
        s = self.status_of(connect_headers(path))
        got = (s["headers"] or {}).get(":status")
        if got != want:
            raise CaseFailed(f"{path}: {got}, reset {s['reset']} (want {want})")

    def case_refused(self):
        self.expect_status("/ws/deny", "403")

    def case_not_upgraded(self):
        self.expect_status("/ws/plain", "502")

    def case_bad_accept(self):
        self.expect_status("/ws/badkey", "502")

    def case_malformed(self):
        plain = [(":method", "CONNECT"), (":authority", "localhost:443")]
        got = (self.status_of(plain)["headers"] or {}).get(":status")
        if got != "405":
            raise CaseFailed(f"CONNECT without :protocol: {got}")
        on_get = [(":method", "GET"), (":protocol", "websocket"), (":scheme", "https"),
                  (":path", "/"), (":authority", "localhost")]
        s = self.status_of(on_get, validate=False)
        if s["reset"] != 1:
            raise CaseFailed(f":protocol on GET: {s['headers']}, reset {s['reset']}")
        s = self.status_of(connect_headers("/ws/echo", protocol="web socket"), validate=False)
        if (s["headers"] or {}).get(":status") != "400":
            raise CaseFailed(f"a :protocol with a space: {s['headers']}, reset {s['reset']}")


CASES = ["settings", "echo", "upstream_ends", "client_resets", "refused", "not_upgraded", "bad_accept", "malformed"]


# Run only when asked: the server's proxy_read_timeout for /ws/ must be about 1 s.
EXTRA_CASES = ["quiet"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--case", nargs="+", choices=CASES + EXTRA_CASES)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    failed = 0
    for name in args.case or CASES:
        t0 = time.monotonic()
        try:
            getattr(Cases(args), "case_" + name)()
            print(f"ok {name}" + (f" [{time.monotonic() - t0:.2f} s]" if args.verbose else ""), flush=True)
        except (CaseFailed, OSError, ssl.SSLError) as e:
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
