"""Drives the live status page in headless Chromium over the DevTools protocol.

Usage: status_page.py CHROMIUM URL SERVER. Prints one line per step and waits for a line on
stdin between steps (the test kills and restarts the backend in between):
  up        the page shows SERVER up          <- "killed"
  down      the same page shows it down       <- "restarted"
  up again  the same page shows it up again, then the phone width check:
  narrow    at 390 px wide nothing scrolls sideways
Exits non-zero, with the page's text, when a step does not happen in time.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

chromium, url, server = sys.argv[1:4]
profile = tempfile.mkdtemp(prefix="rw-chromium-")
browser = subprocess.Popen(
    [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
     "--disable-dev-shm-usage", "--remote-debugging-port=0", "--user-data-dir=" + profile,
     "--window-size=1200,900", "about:blank"],
    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def fail(why):
    print("FAIL: " + why, flush=True)
    sys.exit(1)


try:
    port = None
    deadline = time.time() + 15
    while port is None and time.time() < deadline:
        line = browser.stderr.readline()
        m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if m:
            port = m.group(1)
        elif not line and browser.poll() is not None:
            fail("chromium exited")
    if port is None:
        fail("chromium gave no DevTools port")
    pages = json.load(urllib.request.urlopen("http://127.0.0.1:%s/json/list" % port))
    ws_url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
    ws = websocket.create_connection(ws_url, timeout=10)
    ids = iter(range(1, 1 << 30))

    def call(method, **params):
        i = next(ids)
        ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(ws.recv())
            if msg.get("id") == i:
                if "error" in msg:
                    fail("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    def js(expr):
        r = call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r.get("result", {}).get("value")

    def wait_state(state, within):
        sel = "tr[data-server='%s']" % server
        end = time.time() + within
        while time.time() < end:
            got = js("(document.querySelector(\"%s\") || {}).dataset?.state || ''" % sel)
            if got == state:
                return
            time.sleep(0.1)
        fail("%s never showed %s; the page says:\n%s" % (server, state, js("document.body.innerText")))

    call("Page.enable")
    call("Page.navigate", url=url)
    wait_state("up", 10)
    print("up", flush=True)
    if sys.stdin.readline().strip() != "killed":
        fail("expected 'killed'")
    wait_state("down", 10)
    print("down", flush=True)
    if sys.stdin.readline().strip() != "restarted":
        fail("expected 'restarted'")
    wait_state("up", 10)
    print("up again", flush=True)
    # A phone: 390 CSS pixels wide; nothing may scroll sideways.
    call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=3, mobile=True)
    time.sleep(0.3)
    fits = js("document.documentElement.scrollWidth <= window.innerWidth")
    width = js("[document.documentElement.scrollWidth, window.innerWidth]")
    if not fits:
        fail("horizontal scroll at 390 px: scrollWidth, innerWidth = %s" % width)
    print("narrow %s" % width, flush=True)
    ws.close()
finally:
    browser.kill()
    browser.wait()
    shutil.rmtree(profile, ignore_errors=True)
