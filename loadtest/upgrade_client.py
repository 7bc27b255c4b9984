#!/usr/bin/env python3
"""New-connection load for loadtest/upgrade.sh, standard library only.

    upgrade_client.py PORT SECONDS THREADS BODY

Each of THREADS threads opens a connection per request (`GET /`, `Connection: close`) for
SECONDS and checks the answer: status 200 and the body BODY, read to the close. Prints one JSON
line: {"ok": N, "failed": N, "kinds": {kind: n}, "first": [details]}. Failure kinds:
connect_refused, connect_error, reset, closed_before_response, timeout, status_NNN,
body_mismatch.
"""

import json
import socket
import sys
import threading
import time

TIMEOUT = 5.0


def one(port: int, body: bytes) -> str:
    """One request on a new connection: "" when it succeeded, else the failure's kind."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    except ConnectionRefusedError:
        return "connect_refused"
    except OSError:
        return "connect_error"
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: upgrade\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return "timeout"
    except OSError:
        return "reset"
    finally:
        s.close()
    if not data:
        return "closed_before_response"
    head, _, rest = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    if len(parts) < 2 or parts[1] != b"200":
        return "status_" + (parts[1].decode(errors="replace") if len(parts) > 1 else "none")
    if rest != body:
        return "body_mismatch"
    return ""


def main() -> None:
    port, seconds, threads = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    body = sys.argv[4].encode().decode("unicode_escape").encode()
    end = time.monotonic() + seconds
    lock = threading.Lock()
    ok = [0]
    kinds: dict[str, int] = {}
    first: list[str] = []

    def run() -> None:
        while time.monotonic() < end:
            kind = one(port, body)
            with lock:
                if not kind:
                    ok[0] += 1
                    continue
                kinds[kind] = kinds.get(kind, 0) + 1
                if len(first) < 10:
                    first.append(f"{time.time():.3f} {kind}")

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(json.dumps({"ok": ok[0], "failed": sum(kinds.values()), "kinds": kinds, "first": first}))


if __name__ == "__main__":
    main()
