#!/usr/bin/env bash
# An outage never kills a notice: whatever goes wrong before the server has
# answered for the message itself (no connection, a refusing greeting, AUTH
# demanded, MAIL FROM refused, a gateway's wrong path, rate limit or 503) stops
# the channel for the run, counts no attempt and exits 75. Only a refusal of
# the message (SMTP RCPT or end of data, gateway 400/422) makes it dead.
# Proxies from the environment are not used: a plain-text gateway on this
# host is reached directly.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/notify.sh"

start_stuck() { # NAME ARGS... -> STUCK_PORT, STUCK_DIR
	STUCK_DIR=$T/$1
	shift
	mkdir -p "$STUCK_DIR"
	$PY "$TOP/tests/servers/stuck.py" "$STUCK_DIR" "$@" 2>"$STUCK_DIR/log" &
	_servers="$_servers $!"
	STUCK_PORT=$(_wait_port "$STUCK_DIR") || bail "stuck.py did not start: $(cat "$STUCK_DIR/log")"
}
config() { # SECTION-LINES
	CONFIG_EXTRA="$1
[notify]
chunk = 5
max_attempts = 2
timeout = 2s
backoff_base = 1s"
	write_config
}
smtp_at() { config "[smtp]
url = smtp://127.0.0.1:$1
tls = none
from = no-reply@gosuslugi.example"; }
queue() { # N TAG CHANNEL-COLUMN VALUE-PREFIX
	sql "WITH a AS (INSERT INTO accounts (family_name, first_name, $3)
	       SELECT 'Тестов', 'Тест', $4 FROM generate_series(1, $1) g RETURNING id)
	     SELECT sum(enqueue_notice(id, 'account_confirmed', '$2:' || id, '{}', NULL)) FROM a" >/dev/null
}
due() { sql "UPDATE notifications SET next_attempt_at = now() - interval '1 second' WHERE status = 'pending'" >/dev/null; }
state() { sql "SELECT string_agg(DISTINCT status || '/' || attempts, ',') FROM notifications WHERE event_key LIKE '$1:%'"; }
retire() { sql "UPDATE notifications SET status = 'dead' WHERE status = 'pending'" >/dev/null; }

# --- SMTP: greeting 554, three runs
start_stuck g554 greet 554 "5.3.2 no service here"
smtp_at "$STUCK_PORT"
queue 7 g554 email "'g554-' || g || '@mail.example'"
for i in 1 2 3; do due; eb notify --channel email; done
is "$RC" 75 "greeting 554: exit 75"
is "$(state g554)" "pending/0" "every notice pending, no attempt counted after three runs"
is "$(cat "$STUCK_DIR/connections")" 3 "one connection per run: the channel stops at the first refusal"
retire

# --- SMTP: greeting 421 (maintenance)
start_stuck g421 greet 421 "4.3.2 shutting down"
smtp_at "$STUCK_PORT"
queue 3 g421 email "'g421-' || g || '@mail.example'"
for i in 1 2 3; do due; eb notify --channel email; done
is "$RC/$(state g421)" "75/pending/0" "greeting 421: exit 75, pending, no attempt counted"
retire

# --- SMTP: the server wants AUTH and we have no username (530 at MAIL FROM)
start_smtp authsrv --auth "esia:secret"
smtp_at "$SMTP_PORT"
queue 7 auth email "'auth-' || g || '@mail.example'"
for i in 1 2 3; do due; eb notify --channel email; done
is "$RC/$(state auth)" "75/pending/0" "MAIL FROM refused (530): exit 75, pending, no attempt counted"
like "$ERR" "notify.down channel=email" "logged as down"
retire

# --- SMTP: connections never complete (packets dropped)
start_stuck smtpfull full
smtp_at "$STUCK_PORT"
queue 5 full email "'full-' || g || '@mail.example'"
for i in 1 2 3; do
	due
	s=$(date +%s)
	eb notify --channel email
	took=$(($(date +%s) - s))
done
is "$RC/$(state full)" "75/pending/0" "SMTP connect timeout: exit 75, pending, no attempt counted"
ok $([ "$took" -lt 6 ]; echo $?) "the run gives up after one timeout, not one per notice (${took}s)"
retire

# --- SMS gateway: connections never complete
printf 'tok\n' >"$T/sms.token"
chmod 0600 "$T/sms.token"
sms_at() { config "[sms]
url = http://127.0.0.1:$1${2:-/send}
token = $T/sms.token"; }
start_stuck smsfull full
sms_at "$STUCK_PORT"
queue 3 smsfull phone "'+7916000000' || g"
for i in 1 2 3; do due; eb notify --channel sms; done
is "$RC/$(state smsfull)" "75/pending/0" "gateway connect timeout: exit 75, pending, no attempt counted"
retire

# --- SMS gateway answers: 404 (our path), 429, 503: down; 400: the message's
start_sms gw
sms_at "$SMS_PORT" /wrong-path
for code in 404 429 503; do
	echo "$code" >"$SMS_DIR/mode"
	queue 3 "s$code" phone "'+7916100000' || g"
	for i in 1 2 3; do due; eb notify --channel sms; done
	is "$RC/$(state "s$code")" "75/pending/0" "gateway $code: exit 75, pending, no attempt counted"
	retire
done
echo 400 >"$SMS_DIR/mode"
queue 2 s400 phone "'+7916200000' || g"
eb notify --channel sms
is "$RC/$(state s400)" "65/dead/1" "gateway 400: the message's fault, dead at once (exit 65)"

# --- proxies from the environment are not used
start_sms proxy
PROXY_DIR=$SMS_DIR
start_sms gw2
sms_at "$SMS_PORT"
queue 1 direct phone "'+79163000001'"
http_proxy=http://127.0.0.1:$(cat "$PROXY_DIR/port") all_proxy=http://127.0.0.1:$(cat "$PROXY_DIR/port") \
	eb notify --channel sms
is "$RC/$(state direct)" "0/sent/1" "sent with http_proxy and all_proxy set"
is "$(wc -l <"$SMS_DIR/sms.jsonl" 2>/dev/null || echo 0)/$(cat "$PROXY_DIR/sms.jsonl" 2>/dev/null | wc -l)" "1/0" \
	"straight to the gateway; the proxy saw nothing"
done_testing
