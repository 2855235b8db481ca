"""Shared start-up for the test HTTPS servers (https-put.py, https-box.py):
listen on 127.0.0.1, require a client certificate from CLIENT_CA, publish the
port atomically in PORT_FILE, serve until killed."""
import http.server
import os
import ssl


def serve(handler, port, cert, key, client_ca, port_file):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(client_ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, port_file)
    srv.serve_forever()
