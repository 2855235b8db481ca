# Helpers for the notify tests (tests/t/06x-*.t); source after harness.sh.
#   start_smtp NAME [ARGS]  aiosmtpd in $T/NAME; sets SMTP_PORT SMTP_DIR
#   start_sms NAME [--tls CERT KEY]  HTTP(S) gateway in $T/NAME; sets SMS_PORT SMS_DIR
#   free_port               a port nothing listens on (for "server down")
#   mails DIR               one JSON line per stored mail, decoded by Python's email
#   account ...             insert an account, print its id
# Servers listen on 127.0.0.1 only and are stopped when the test exits.
PY=/usr/bin/python3
_servers=""

_notify_cleanup() {
	for p in $_servers; do kill "$p" 2>/dev/null; done
	for p in $_servers; do wait "$p" 2>/dev/null; done
	_harness_cleanup
}
trap _notify_cleanup EXIT

_wait_port() { # DIR
	for _ in $(seq 100); do
		[ -s "$1/port" ] && { cat "$1/port"; return 0; }
		sleep 0.1
	done
	return 1
}

start_smtp() {
	SMTP_DIR=$T/$1
	shift
	mkdir -p "$SMTP_DIR"
	$PY "$TOP/tests/servers/smtp.py" "$SMTP_DIR" "$@" 2>"$SMTP_DIR/log" &
	SMTP_PID=$!
	_servers="$_servers $SMTP_PID"
	SMTP_PORT=$(_wait_port "$SMTP_DIR") || bail "smtp server did not start: $(cat "$SMTP_DIR/log")"
}

start_sms() {
	SMS_DIR=$T/$1
	shift
	mkdir -p "$SMS_DIR"
	$PY "$TOP/tests/servers/sms.py" "$SMS_DIR" "$@" 2>"$SMS_DIR/log" &
	SMS_PID=$!
	_servers="$_servers $SMS_PID"
	SMS_PORT=$(_wait_port "$SMS_DIR") || bail "sms gateway did not start: $(cat "$SMS_DIR/log")"
}

stop_server() { # PID
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Decode every stored message independently of our code: Python's email
# package parses headers (RFC 2047) and the body (its transfer encoding).
mails() { # DIR -> JSON lines sorted by Message-ID then file name
	$PY - "$1/Maildir" <<'PYEOF'
import email, email.policy, json, os, sys
d = sys.argv[1]
out = []
for sub in ("new", "cur"):
    p = os.path.join(d, sub)
    if not os.path.isdir(p):
        continue
    for name in sorted(os.listdir(p)):
        raw = open(os.path.join(p, name), "rb").read()
        m = email.message_from_bytes(raw, policy=email.policy.default)
        body = m.get_content().replace("\r\n", "\n")
        seven_bit = all(b < 128 for b in raw)
        longest = max(len(l) for l in raw.split(b"\r\n"))
        out.append({"to": str(m["To"]), "from": str(m["From"]), "subject": str(m["Subject"]),
                    "message_id": str(m["Message-ID"]), "date": str(m["Date"]),
                    "date_ok": m["Date"].datetime is not None,
                    "cte": str(m["Content-Transfer-Encoding"]),
                    "charset": m.get_content_charset(), "seven_bit": seven_bit,
                    "longest_line": longest, "body": body, "file": name})
out.sort(key=lambda x: (x["message_id"], x["file"]))
for o in out:
    print(json.dumps(o, ensure_ascii=False))
PYEOF
}

# mail_field JSONLINES MESSAGE-ID FIELD: one field of the first mail with that id
mail_field() {
	printf '%s\n' "$1" | $PY -c '
import json, sys
for l in sys.stdin:
    o = json.loads(l)
    if o["message_id"] == sys.argv[1]:
        print(o[sys.argv[2]]); break' "$2" "$3"
}

account() { # FAMILY FIRST PATRONYMIC|"" EMAIL|"" PHONE|""
	sql "INSERT INTO accounts (family_name, first_name, patronymic, email, phone)
	     VALUES ('$1', '$2', NULLIF('$3', ''), NULLIF('$4', ''), NULLIF('$5', ''))
	     RETURNING id"
}

enqueue() { # ACCOUNT EVENT KEY PAYLOAD
	sql "SELECT enqueue_notice($1, '$2', '$3', '$4'::jsonb, NULL)"
}
