#!/usr/bin/env bash
# notify under faults: SMTP down -> pending with backoff, exit 75, a later run
# delivers all; kill -9 between sending and recording -> the rerun delivers
# the rest, nothing lost (duplicates only with the same Message-ID); two
# parallel runs share the work without sending anything twice; STARTTLS with
# AUTH, and no clear-text fallback; the rate limit holds.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/notify.sh"

smtp_config() { # URL [RATE]
	CONFIG_EXTRA="[smtp]
url = $1
tls = none
from = no-reply@gosuslugi.example
rate_limit = ${2:-0}
[notify]
chunk = 5
max_attempts = 3
backoff_base = 30s"
	write_config
}

queue() { # N TAG -> N accounts with one e-mail notice each
	sql "WITH a AS (INSERT INTO accounts (family_name, first_name, email)
	       SELECT 'Тестов', 'Тест', '$2' || g || '@mail.example' FROM generate_series(1, $1) g
	       RETURNING id)
	     SELECT sum(enqueue_notice(id, 'account_confirmed', '$2:' || id, '{}', NULL)) FROM a" >/dev/null
}

pending() { sql "SELECT count(*) FROM notifications WHERE status = 'pending'"; }

# --- SMTP down
smtp_config "smtp://127.0.0.1:$(free_port)"
queue 7 down
eb notify
is "$RC" 75 "SMTP server down: exit 75"
like "$ERR" "notify.down" "logged as down"
is "$(sql "SELECT count(*) FROM notifications WHERE status = 'pending' AND next_attempt_at > now()
	AND attempts = 0 AND last_error LIKE 'smtp:%connect%'")" 5 \
	"the claimed chunk stays pending with backoff and the reason, no attempt counted"
is "$(sql "SELECT count(*) FROM notifications WHERE status = 'pending' AND last_error IS NULL")" 2 \
	"the rest is untouched"
# an outage longer than max_attempts (3) runs: down is not an attempt
for i in 1 2 3 4 5; do
	sql "UPDATE notifications SET next_attempt_at = now() - interval '1 second'"
	eb notify
	[ "$RC" = 75 ] || break
done
is "$RC" 75 "five more runs against the dead server: exit 75 each"
is "$(sql "SELECT count(*) FROM notifications WHERE status = 'pending' AND attempts = 0")" 7 \
	"after six down runs all 7 are pending, attempts still 0"
is "$(sql "SELECT status FROM batches WHERE job = 'notify' ORDER BY id DESC LIMIT 1")" failed "the batch failed"
like "$(sql "SELECT error FROM batches WHERE job = 'notify' ORDER BY id DESC LIMIT 1")" "unreachable" "with the reason"

start_smtp smtp
smtp_config "smtp://127.0.0.1:$SMTP_PORT"
sql "UPDATE notifications SET next_attempt_at = now() - interval '1 second'"
eb notify
is "$RC" 0 "the server is back: exit 0"
is "$(mails "$SMTP_DIR" | grep -c .)" 7 "all 7 delivered"
is "$(pending)" 0 "nothing pending"

# --- kill -9 after a send, before the chunk is recorded
queue 20 kill
{ ESIA_FAULT=notify.after_send:kill@12 "$EB" notify >"$T/kill.out" 2>"$T/kill.err"; } 2>/dev/null
is "$?" 137 "killed with SIGKILL at the 12th send"
is "$(sql "SELECT count(*) FROM notifications WHERE event_key LIKE 'kill:%' AND status = 'sent'")" 10 \
	"the two chunks recorded before the kill are sent"
is "$(mails "$SMTP_DIR" | grep -c .)" 19 "the server got 12 of them (7 earlier + 12)"
eb notify
is "$RC" 0 "the next run exits 0"
is "$(sql "SELECT count(*) FROM notifications WHERE status = 'sent'")" 27 "every notice is sent"
is "$(sql "SELECT count(*) FROM batches WHERE job = 'notify' AND status = 'abandoned'")" 1 \
	"the killed run is marked abandoned"
M=$(mails "$SMTP_DIR")
is "$(printf '%s\n' "$M" | grep -c .)" 29 "29 messages: 27 notices + 2 resent after the kill"
want=$(sql "SELECT '<esia-notice-' || id || '@gosuslugi.example>' FROM notifications ORDER BY 1")
got=$(printf '%s\n' "$M" | $PY -c 'import json,sys; print("\n".join(sorted({json.loads(l)["message_id"] for l in sys.stdin})))')
is "$got" "$want" "every notice arrived, under its own Message-ID"
is "$(printf '%s\n' "$M" | $PY -c 'import json,sys,collections; c=collections.Counter(json.loads(l)["message_id"] for l in sys.stdin); print(sum(1 for v in c.values() if v == 2), sum(1 for v in c.values() if v > 2))')" \
	"2 0" "the two duplicates carry the same Message-ID as the first copy"

# --- two parallel runs share the work (FOR UPDATE SKIP LOCKED)
queue 60 par
smtp_config "smtp://127.0.0.1:$SMTP_PORT" 100
before=$(mails "$SMTP_DIR" | grep -c .)
"$EB" --parallel notify >"$T/p1.out" 2>"$T/p1.err" &
p1=$!
"$EB" --parallel notify >"$T/p2.out" 2>"$T/p2.err" &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
is "$r1/$r2" "0/0" "both parallel runs exit 0"
is "$(sql "SELECT count(*) FROM notifications WHERE event_key LIKE 'par:%' AND status = 'sent'")" 60 "all 60 sent"
after=$(mails "$SMTP_DIR" | grep -c .)
is "$((after - before))" 60 "exactly 60 messages: nothing sent twice"
s1=$(sed -n 's/.*sent \([0-9]*\),.*/\1/p' "$T/p1.out")
s2=$(sed -n 's/.*sent \([0-9]*\),.*/\1/p' "$T/p2.out")
is "$((s1 + s2))" 60 "the runs split the work ($s1 + $s2)"

# --- rate limit: 20 per second
queue 20 rate
smtp_config "smtp://127.0.0.1:$SMTP_PORT" 20
t0=$(date +%s%N)
eb notify
t1=$(date +%s%N)
is "$RC" 0 "rate-limited run exits 0"
ms=$(( (t1 - t0) / 1000000 ))
is "$([ "$ms" -ge 900 ] && echo slow-enough)" slow-enough "20 mails at 20/s take about a second (${ms} ms)"

# --- STARTTLS with AUTH; no clear-text fallback
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls.key" -out "$T/tls.pem" -days 2 \
	-subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
start_smtp tls --tls "$T/tls.pem" "$T/tls.key" --auth "esia:s3cret pass"
printf 's3cret pass\n' >"$T/smtp.pw"
chmod 0600 "$T/smtp.pw"
CONFIG_EXTRA="[smtp]
url = smtp://127.0.0.1:$SMTP_PORT
tls = starttls
ca_bundle = $T/tls.pem
username = esia
password = $T/smtp.pw
from = no-reply@gosuslugi.example
message_id_domain = notify.gosuslugi.example"
write_config
queue 3 tls
eb notify
is "$RC" 0 "STARTTLS + AUTH: exit 0"
M=$(mails "$SMTP_DIR")
is "$(printf '%s\n' "$M" | grep -c .)" 3 "3 mails over TLS"
like "$M" "notify.gosuslugi.example>" "Message-ID uses [smtp] message_id_domain"
is "$(cat "$SMTP_DIR/connections")" 1 "over one connection"

printf 'wrong\n' >"$T/smtp.pw"
queue 1 badpw
eb notify
cp "$T/err" "$T/badpw.err"
is "$RC" 75 "wrong SMTP password: exit 75 (nothing is the notice's fault)"
is "$(sql "SELECT status FROM notifications WHERE event_key LIKE 'badpw:%'")" pending "the notice stays pending"

start_smtp plain
CONFIG_EXTRA="[smtp]
url = smtp://127.0.0.1:$SMTP_PORT
tls = starttls"
write_config
sql "UPDATE notifications SET next_attempt_at = now() - interval '1 second' WHERE status = 'pending'"
eb notify
is "$RC" 75 "tls = starttls against a server without STARTTLS: exit 75"
is "$(mails "$SMTP_DIR" | grep -c .)" 0 "and nothing was sent in clear"
CONFIG_EXTRA="[smtp]
url = smtp://127.0.0.1:$SMTP_PORT
tls = smtps"
write_config
sql "UPDATE notifications SET next_attempt_at = now() - interval '1 second' WHERE status = 'pending'"
eb notify
is "$RC" 1 "tls = smtps with an smtp:// url is refused"
like "$ERR" "needs an smtps:// url" "with a clear message"
done_testing
