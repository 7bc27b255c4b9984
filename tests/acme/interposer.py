#!/usr/bin/env python3
"""A scripted HTTPS interposer between ringway's ACME client and pebble, for tests/acme_interposed.rs.

Forwards every request to pebble with its Host header kept (pebble builds the URLs in its answers,
and checks each JWS "url", from the Host it sees, so they all point here), and, as the script file
says, answers some itself:

  renewal_info: null, or {"open_for": [ID...], "bad": false}: the directory gains "renewalInfo"
      (RFC 9773); GET renewal-info/ID answers a window that is already open for the IDs listed,
      one a month ahead for the others, or (bad: true) a window that ends before it starts.
      Read again at every request, so a test can change it between runs.
  dir_503: N        the first N directory reads answer 503 + Retry-After: 1 (serverInternal).
  bad_nonce_for: NAME    the first newOrder naming NAME answers 400 badNonce with a fresh nonce.
  rate_limit_for: NAME   the next newOrder naming NAME answers 429 + Retry-After: 2 (rateLimited).
  already_replaced: true the first newOrder with "replaces" answers 409 alreadyReplaced.
  profiles: {NAME: DESCRIPTION...}  the directory's meta gains "profiles" (draft-ietf-acme-profiles;
      pebble 2.4 has none, and ignores a newOrder's "profile" member).

Each request is recorded as one JSON line in the record file: time, method, path, status, who
answered, the JWS's decoded protected header and payload, and the nonce handed out with an error.

  interposer.py PORT UPSTREAM_HOST:PORT CERT KEY SCRIPT RECORD
"""

import base64
import http.client
import http.server
import json
import ssl
import sys
import threading
import time

PORT, UPSTREAM, CERT, KEY, SCRIPT, RECORD = sys.argv[1:7]
UP_HOST, UP_PORT = UPSTREAM.rsplit(":", 1)
LOCK = threading.Lock()
# One-shot scripts already used up.
USED = {"dir_503": 0, "bad_nonce": False, "rate_limit": False, "already_replaced": False}


def script():
    with open(SCRIPT) as f:
        return json.load(f)


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def record(entry):
    with LOCK, open(RECORD, "a") as f:
        f.write(json.dumps(entry) + "\n")


def upstream():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return http.client.HTTPSConnection(UP_HOST, int(UP_PORT), context=ctx, timeout=30)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def fresh_nonce(self):
        c = upstream()
        c.request("HEAD", "/nonce-plz", headers={"Host": self.headers.get("Host", "")})
        r = c.getresponse()
        r.read()
        c.close()
        return r.getheader("Replay-Nonce")

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def problem(self, status, kind, detail, extra=()):
        nonce = self.fresh_nonce()
        self.answer(
            status,
            {"type": "urn:ietf:params:acme:error:" + kind, "detail": detail, "status": status},
            [("Content-Type", "application/problem+json"), ("Replay-Nonce", nonce), *extra],
        )
        return nonce

    def forward(self, body):
        c = upstream()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        c.request(self.command, self.path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
        sc = script()
        if self.path == "/dir" and r.status == 200 and sc.get("renewal_info") is not None:
            d = json.loads(data)
            d["renewalInfo"] = "https://%s/renewal-info" % self.headers.get("Host")
            data = json.dumps(d).encode()
        if self.path == "/dir" and r.status == 200 and sc.get("profiles") is not None:
            d = json.loads(data)
            d.setdefault("meta", {})["profiles"] = sc["profiles"]
            data = json.dumps(d).encode()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return r.status

    def handle_one(self):
        body = b""
        if "Content-Length" in self.headers:
            body = self.rfile.read(int(self.headers["Content-Length"]))
        entry = {"t": time.time(), "method": self.command, "path": self.path, "by": "pebble"}
        if body:
            try:
                jws = json.loads(body)
                entry["protected"] = json.loads(b64d(jws["protected"]))
                entry["payload"] = json.loads(b64d(jws["payload"])) if jws["payload"] else None
            except (ValueError, KeyError):
                pass
        sc = script()
        names = [i.get("value") for i in ((entry.get("payload") or {}).get("identifiers") or [])]
        status = None
        with LOCK:
            dir_fail = self.path == "/dir" and USED["dir_503"] < sc.get("dir_503", 0)
            if dir_fail:
                USED["dir_503"] += 1
            new_order = self.path == "/order-plz" and self.command == "POST"
            bad_nonce = new_order and sc.get("bad_nonce_for") in names and not USED["bad_nonce"]
            rate_limit = (
                new_order
                and not bad_nonce
                and sc.get("rate_limit_for") in names
                and not USED["rate_limit"]
            )
            already_replaced = (
                new_order
                and sc.get("already_replaced")
                and "replaces" in (entry.get("payload") or {})
                and not USED["already_replaced"]
            )
            if already_replaced:
                USED["already_replaced"] = True
            if bad_nonce:
                USED["bad_nonce"] = True
            if rate_limit:
                USED["rate_limit"] = True
        if dir_fail:
            entry["by"] = "interposer"
            status = 503
            self.answer(
                503,
                {"type": "urn:ietf:params:acme:error:serverInternal", "detail": "scripted outage"},
                [("Content-Type", "application/problem+json"), ("Retry-After", "1")],
            )
        elif bad_nonce:
            entry["by"] = "interposer"
            status = 400
            entry["nonce_given"] = self.problem(400, "badNonce", "scripted bad nonce")
        elif rate_limit:
            entry["by"] = "interposer"
            status = 429
            entry["nonce_given"] = self.problem(
                429, "rateLimited", "scripted rate limit: too many new orders", [("Retry-After", "2")]
            )
        elif already_replaced:
            entry["by"] = "interposer"
            status = 409
            self.problem(409, "alreadyReplaced", "scripted: the certificate was replaced already")
        elif self.path.startswith("/renewal-info/") and sc.get("renewal_info") is not None:
            entry["by"] = "interposer"
            status = 200
            ri = sc["renewal_info"]
            cert_id = self.path[len("/renewal-info/"):]
            now = time.time()
            if ri.get("bad"):
                window = {"start": iso(now + 86400), "end": iso(now)}
            elif cert_id in ri.get("open_for", []):
                window = {"start": iso(now - 3600), "end": iso(now)}
            else:
                window = {"start": iso(now + 30 * 86400), "end": iso(now + 31 * 86400)}
            self.answer(200, {"suggestedWindow": window},
                        [("Content-Type", "application/json"), ("Retry-After", "3600")])
        else:
            status = self.forward(body)
        entry["status"] = status
        record(entry)

    do_GET = do_HEAD = do_POST = handle_one


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
