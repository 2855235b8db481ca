#!/usr/bin/python3
"""A real HTTP server standing in for the SMS gateway in the notify tests.

usage: sms.py DIR [--tls CERT KEY]

Listens on 127.0.0.1 on a free port and writes it to DIR/port once ready.
Each POST is appended to DIR/sms.jsonl as {"auth": <Authorization header>,
"path": ..., "body": <the JSON received>}. The answer is chosen by the
file DIR/mode (read per request): an HTTP status, "200" by default; any
other is answered with a JSON error. "cp1251:PHONE" refuses that phone
with 400 and a reason in windows-1251 (not UTF-8), and takes the others.
"body:TEXT" refuses with 400 and TEXT as the body, as it is (not JSON).
--tls serves HTTPS with that certificate (no client certificate asked).
Stop it with SIGTERM.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FOLDER = None


class Gateway(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            return self.answer(400, {"error": "body is not JSON"})
        try:
            with open(os.path.join(FOLDER, "mode")) as f:
                mode = f.read().strip()
        except OSError:
            mode = "200"
        with open(os.path.join(FOLDER, "sms.jsonl"), "a") as f:
            f.write(json.dumps({"auth": self.headers.get("Authorization"), "path": self.path,
                                "mode": mode, "body": body}, ensure_ascii=False) + "\n")
        if mode.startswith("cp1251:"):
            if body.get("to") != mode[7:]:
                return self.answer(200, {"id": body.get("id"), "status": "accepted"})
            data = '{"error": "Номер заблокирован"}'.encode("cp1251")
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return self.wfile.write(data)
        if mode.startswith("body:"):
            data = mode[5:].encode()
            self.send_response(400)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return self.wfile.write(data)
        if mode == "500":
            return self.answer(500, {"error": "gateway overloaded"})
        if mode == "400":
            return self.answer(400, {"error": "destination not allowed"})
        if mode.isdigit() and mode != "200":
            return self.answer(int(mode), {"error": "refused with %s" % mode})
        return self.answer(200, {"id": body.get("id"), "status": "accepted"})


def main():
    global FOLDER
    if len(sys.argv) not in (2, 5) or (len(sys.argv) == 5 and sys.argv[2] != "--tls"):
        sys.exit(__doc__)
    FOLDER = sys.argv[1]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    if len(sys.argv) == 5:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = os.path.join(FOLDER, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, os.path.join(FOLDER, "port"))
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    srv.serve_forever()


if __name__ == "__main__":
    main()
