#!/usr/bin/env bash
# Runs tests/h2/suite.py against nginx (the reference), over h2c and over TLS (ALPN h2):
#   tests/h2/nginx.sh [suite.py options, e.g. --case rapid_reset -v]
# nginx 1.22's syntax (`listen … http2`; 1.25.1+ also has `http2 on;`), one worker, a self-signed
# certificate, and the paths the suite needs: / (index.html), /large (1 MiB), POST /post, and
# /echo, proxied to a Python upstream that echoes the request head it got.
# PYTHON: the interpreter with the h2 package (default target/ci-h2/bin/python3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-$ROOT/target/ci-h2/bin/python3}"
export PATH="$PATH:/usr/sbin"
command -v nginx >/dev/null || { echo "needs nginx (apt-get install nginx-light)" >&2; exit 1; }
[[ -x "$PY" ]] || { echo "needs $PY: python3 -m venv target/ci-h2 && target/ci-h2/bin/pip install h2" >&2; exit 1; }
DIR="$(mktemp -d)"; chmod 755 "$DIR"
NGINX_PID=""; ECHO_PID=""
trap 'kill $NGINX_PID $ECHO_PID 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
H2C=$(free_port); TLS=$(free_port); ECHO=$(free_port)
# The echo upstream behind /echo: answers each request with its head as nginx passed it on.
python3 - "$ECHO" <<'PY' & ECHO_PID=$!
import http.server, sys
class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (self.requestline + "\r\n" + str(self.headers)).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
PY
mkdir "$DIR/www"
echo "hello from nginx" > "$DIR/www/index.html"
head -c $((1024 * 1024)) /dev/urandom > "$DIR/www/large"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
cat > "$DIR/nginx.conf" <<CONF
worker_processes 1; daemon off; master_process off; pid $DIR/nginx.pid; error_log $DIR/error.log info;
events { worker_connections 1024; }
http { access_log off;
  server { listen 127.0.0.1:$H2C http2; listen 127.0.0.1:$TLS ssl http2;
    ssl_certificate $DIR/cert.pem; ssl_certificate_key $DIR/key.pem;
    location / { root $DIR/www; }
    location = /post { return 200 "posted\n"; }
    location = /echo { proxy_pass http://127.0.0.1:$ECHO; } } }
CONF
nginx -c "$DIR/nginx.conf" -p "$DIR" & NGINX_PID=$!
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$TLS") 2>/dev/null && break
    sleep 0.1
done
rc=0
echo "== nginx $(nginx -v 2>&1 | sed 's|.*/||'), h2c (prior knowledge), port $H2C"
"$PY" "$ROOT/tests/h2/suite.py" 127.0.0.1 "$H2C" --echo /echo --pid "$NGINX_PID" "$@" || rc=1
echo "== nginx, TLS + ALPN h2, port $TLS"
"$PY" "$ROOT/tests/h2/suite.py" 127.0.0.1 "$TLS" --tls --echo /echo --pid "$NGINX_PID" "$@" || rc=1
[[ "${SHOW_LOG:-0}" == 1 ]] && grep -v "\[debug\]" "$DIR/error.log" | sed "s/^[0-9/]* [0-9:]* //" | sort | uniq -c | sort -rn | head -20
exit $rc
