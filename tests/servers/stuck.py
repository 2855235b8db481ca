#!/usr/bin/python3
"""A server that is there but of no use, for notify's outage tests.

usage: stuck.py DIR greet CODE TEXT   every connection gets the greeting
                                      "CODE TEXT" and is closed
       stuck.py DIR full              a listener whose accept queue is full:
                                      new connections never complete (as a
                                      host behind a firewall that drops them)

Listens on 127.0.0.1 on a free port and writes it to DIR/port once ready;
counts connections accepted in DIR/connections. Stop it with SIGTERM.
"""
import os
import signal
import socket
import sys
import time


def ready(folder, port):
    tmp = os.path.join(folder, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, os.path.join(folder, "port"))


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in ("greet", "full") or \
            (sys.argv[2] == "greet" and len(sys.argv) != 5):
        sys.exit(__doc__)
    folder, mode = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    if mode == "full":
        # backlog 0 holds one pending connection; we never accept, so with
        # the queue taken further SYNs are dropped
        srv.listen(0)
        held = []
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            held.append(c)
        ready(folder, port)
        while True:
            time.sleep(3600)
    srv.listen(16)
    ready(folder, port)
    line = ("%s %s\r\n" % (sys.argv[3], sys.argv[4])).encode()
    n = 0
    while True:
        c, _ = srv.accept()
        n += 1
        with open(os.path.join(folder, "connections"), "w") as f:
            f.write("%d\n" % n)
        try:
            c.sendall(line)
            time.sleep(0.1)
        finally:
            c.close()


if __name__ == "__main__":
    main()
