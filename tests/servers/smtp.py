#!/usr/bin/python3
"""A real SMTP server for the notify tests (Debian's python3-aiosmtpd).

usage: smtp.py DIR [--tls CERT KEY | --smtps CERT KEY] [--auth USER:PASSWORD] [--discard]
                  [--smtputf8]

Listens on 127.0.0.1 on a free port and writes it to DIR/port once ready.
Each accepted message is stored as a file in the Maildir DIR/Maildir; the
number of connections accepted so far is kept in DIR/connections.
Recipients whose local part starts with "refuse" get 550, "tempfail" 451.
--tls offers STARTTLS and requires it; --smtps speaks TLS from the first byte
(implicit TLS, port 465 style); --auth requires AUTH (PLAIN/LOGIN).
--smtputf8 offers SMTPUTF8 (RFC 6531); without it the server is strictly
ASCII, as aiosmtpd is by default. The envelope of each accepted message
(MAIL FROM, its parameters, RCPT TO) is appended to DIR/envelopes as a JSON
line. --discard (for the bench) stores nothing and writes the number of messages
accepted to DIR/messages when stopped.
Stop it with SIGTERM.
"""
import asyncio
import json
import mailbox
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


class Handler:
    def __init__(self, folder):
        self.folder = folder
        self.maildir = mailbox.Maildir(os.path.join(folder, "Maildir"), create=True)
        self.connections = 0
        self.discard = False
        self.messages = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("refuse"):
            return "550 5.1.1 mailbox unavailable"
        if local.startswith("tempfail"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages += 1
        if not self.discard:
            self.maildir.add(envelope.original_content)
            with open(os.path.join(self.folder, "envelopes"), "a") as f:
                f.write(json.dumps({"from": envelope.mail_from, "options": envelope.mail_options,
                                    "rcpt": envelope.rcpt_tos}, ensure_ascii=False) + "\n")
        return "250 2.0.0 message accepted"


class CountingSMTP(SMTP):
    implicit = False

    def connection_made(self, transport):
        # STARTTLS hands the protocol a second (TLS) transport on the same
        # TCP connection: count TCP connections only.
        if transport.get_extra_info("sslcontext") is None or self.implicit:
            self.event_handler.connections += 1
            write_atomic(os.path.join(self.event_handler.folder, "connections"),
                         "%d\n" % self.event_handler.connections)
        super().connection_made(transport)


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    folder = args.pop(0)
    kw = {"hostname": "localhost", "auth_require_tls": False}
    discard = False
    implicit = None
    while args:
        opt = args.pop(0)
        if opt == "--tls":
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(args.pop(0), args.pop(0))
            kw["tls_context"] = ctx
            kw["require_starttls"] = True
        elif opt == "--smtps":
            implicit = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            implicit.load_cert_chain(args.pop(0), args.pop(0))
        elif opt == "--auth":
            user, password = args.pop(0).split(":", 1)

            def check(server, session, envelope, mechanism, data):
                ok = data.login.decode() == user and data.password.decode() == password
                return AuthResult(success=ok, handled=False)

            kw["authenticator"] = check
            kw["auth_required"] = True
        elif opt == "--smtputf8":
            kw["enable_SMTPUTF8"] = True
        elif opt == "--discard":
            discard = True
        else:
            sys.exit("unknown option " + opt)
    handler = Handler(folder)
    handler.discard = discard
    CountingSMTP.implicit = implicit is not None
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(lambda: CountingSMTP(handler, loop=loop, **kw), "127.0.0.1", 0,
                           ssl=implicit))
    write_atomic(os.path.join(folder, "connections"), "0\n")
    write_atomic(os.path.join(folder, "port"), "%d\n" % server.sockets[0].getsockname()[1])
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.run_forever()
    server.close()
    write_atomic(os.path.join(folder, "messages"), "%d\n" % handler.messages)


if __name__ == "__main__":
    main()
