#!/usr/bin/env bash
# notify over TLS from the first byte: SMTPS (implicit TLS, tls = smtps) and
# an HTTPS SMS gateway, each a real server on 127.0.0.1 with a certificate the
# ca_bundle vouches for. Both deliver; with a ca_bundle that does not vouch for
# the server, nothing is sent (not even in clear), the run exits 75 and the
# notices stay pending; once the bundle is right they go out exactly once.
# (STARTTLS and its no-clear-text fallback are in 062.)
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/notify.sh"

cert() { # NAME -> $T/NAME.{pem,key}, self-signed for 127.0.0.1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.pem" -days 2 \
		-subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 || bail "openssl $1"
}
cert tls
cert other
start_smtp smtps --smtps "$T/tls.pem" "$T/tls.key"
start_sms gw --tls "$T/tls.pem" "$T/tls.key"
printf 'tok-%s\n' "$$" >"$T/sms.token"
chmod 0600 "$T/sms.token"
tls_config() { # CA-BUNDLE
	CONFIG_EXTRA="[smtp]
url = smtps://127.0.0.1:$SMTP_PORT
tls = smtps
ca_bundle = $1
from = no-reply@gosuslugi.example
[sms]
url = https://127.0.0.1:$SMS_PORT/send
token = $T/sms.token
ca_bundle = $1
[notify]
backoff_base = 30s"
	write_config
}
sms_count() { [ -f "$SMS_DIR/sms.jsonl" ] && wc -l <"$SMS_DIR/sms.jsonl" || echo 0; }
mail_count() { mails "$SMTP_DIR" | grep -c .; }

tls_config "$T/tls.pem"
a=$(account Тестова Анна "" anna@mail.example +79161234567)
enqueue "$a" account_confirmed "tls:1" '{}' >/dev/null
eb notify
is "$RC" 0 "SMTPS and HTTPS gateway: exit 0"
is "$(mail_count)/$(sms_count)" 1/1 "one mail over SMTPS, one SMS over HTTPS"
M=$(mails "$SMTP_DIR")
is "$(mail_field "$M" "$(printf '%s\n' "$M" | $PY -c 'import json,sys; print(json.loads(sys.stdin.readline())["message_id"])')" to)" \
	"anna@mail.example" "the mail reached its addressee"
like "$(cat "$SMS_DIR/sms.jsonl")" "\"auth\": \"Bearer tok-$$\".*\"to\": \"\\+79161234567\"" \
	"the SMS carries the token and the number"
is "$(sql "SELECT string_agg(status, ',' ORDER BY channel) FROM notifications WHERE event_key = 'tls:1'")" \
	"sent,sent" "both notices sent"

# a ca_bundle that does not vouch for the servers: nothing leaves, in clear or not
tls_config "$T/other.pem"
enqueue "$a" account_confirmed "tls:2" '{}' >/dev/null
eb notify
is "$RC" 75 "servers the ca_bundle does not vouch for: exit 75"
like "$ERR" "certificate" "the error names the certificate"
is "$(mail_count)/$(sms_count)" 1/1 "nothing more was delivered"
is "$(sql "SELECT string_agg(status, ',' ORDER BY channel) FROM notifications WHERE event_key = 'tls:2'")" \
	"pending,pending" "the notices stay pending (not dead: not their fault)"

tls_config "$T/tls.pem"
sql "UPDATE notifications SET next_attempt_at = now() - interval '1 second' WHERE status = 'pending'"
eb notify
is "$RC" 0 "the right bundle again: exit 0"
is "$(mail_count)/$(sms_count)" 2/2 "each notice delivered exactly once"
is "$(sql "SELECT count(*) FROM notifications WHERE status <> 'sent'")" 0 "nothing left pending"
done_testing
