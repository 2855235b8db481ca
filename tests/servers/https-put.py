#!/usr/bin/env python3
"""HTTPS PUT receiver for the upload tests: TLS with a required client
certificate (verified against --client-ca), files stored in --dir.
Listens on 127.0.0.1 on a free port, written to --port-file.
--fail-first N answers 503 to the first N PUTs (transient failure)."""
import argparse
import http.server
import os
import tlsserve
import threading

ap = argparse.ArgumentParser()
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--client-ca", required=True)
ap.add_argument("--dir", required=True)
ap.add_argument("--port-file", required=True)
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--fail-first", type=int, default=0)
args = ap.parse_args()
lock = threading.Lock()
state = {"fail": args.fail_first}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        name = os.path.basename(self.path)
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with lock:
            if state["fail"] > 0:
                state["fail"] -= 1
                self.send_response(503)
                self.end_headers()
                return
        peer = self.connection.getpeercert()
        subject = dict(x[0] for x in peer.get("subject", ()))
        tmp = os.path.join(args.dir, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(body)
        os.rename(tmp, os.path.join(args.dir, name))
        with open(os.path.join(args.dir, "clients.log"), "a") as f:
            f.write("%s %s\n" % (name, subject.get("commonName", "?")))
        self.send_response(201)
        self.end_headers()

    def log_message(self, fmt, *a):
        pass


tlsserve.serve(Handler, args.port, args.cert, args.key, args.client_ca, args.port_file)
