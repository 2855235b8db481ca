#!/usr/bin/env python3
"""HTTPS mailbox for the download tests: TLS with a required client
certificate (verified against --client-ca), serving the folders under --root.
  GET /DIR/        plain-text listing of --root/DIR: one file name per line
                   (names starting with '.' left out), then the lines of
                   --root/DIR.extra if it exists (hostile names for tests)
  GET /DIR/NAME    the file (NAME ending in .stream: no Content-Length)
  DELETE /DIR/NAME removes it
Every request is appended to --log as "METHOD PATH CLIENT-CN".
Listens on 127.0.0.1 on a free port (or --port), written to --port-file."""
import argparse
import http.server
import os
import tlsserve
import threading

ap = argparse.ArgumentParser()
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--client-ca", required=True)
ap.add_argument("--root", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--port-file", required=True)
ap.add_argument("--port", type=int, default=0)
args = ap.parse_args()
lock = threading.Lock()


def safe(part):
    return part and not part.startswith(".") and "/" not in part


class Handler(http.server.BaseHTTPRequestHandler):
    def note(self):
        peer = self.connection.getpeercert() or {}
        subject = dict(x[0] for x in peer.get("subject", ()))
        with lock, open(args.log, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, subject.get("commonName", "?")))

    def where(self):
        parts = self.path.split("/")
        if len(parts) != 3 or parts[0] != "" or not safe(parts[1]):
            return None, None
        return os.path.join(args.root, parts[1]), parts[2]

    def answer(self, code, body=b"", length=True):
        self.send_response(code)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.note()
        folder, name = self.where()
        if folder is None or not os.path.isdir(folder):
            return self.answer(404)
        if name == "":
            names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
            extra = folder + ".extra"
            if os.path.exists(extra):
                with open(extra) as f:
                    names += f.read().splitlines()
            return self.answer(200, "".join(n + "\n" for n in names).encode())
        path = os.path.join(folder, name)
        if not safe(name) or not os.path.isfile(path):
            return self.answer(404)
        with open(path, "rb") as f:
            body = f.read()
        self.answer(200, body, length=not name.endswith(".stream"))

    def do_DELETE(self):
        self.note()
        folder, name = self.where()
        path = os.path.join(folder, name) if folder and safe(name) else None
        if not path or not os.path.isfile(path):
            return self.answer(404)
        os.remove(path)
        self.answer(204, length=False)

    def log_message(self, fmt, *a):
        pass


tlsserve.serve(Handler, args.port, args.cert, args.key, args.client_ca, args.port_file)
