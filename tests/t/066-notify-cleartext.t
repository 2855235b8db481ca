#!/usr/bin/env bash
# Personal data leaves this host only over TLS: an SMS gateway at an http://
# URL of another host and an SMTP server of another host with tls = none are
# refused before anything is sent (exit 1, the notices untouched), also when
# the host is a name like 127.example.invalid; on this host (127.0.0.1,
# localhost) plain transport stays allowed.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/notify.sh"

printf 'tok\n' >"$T/sms.token"
chmod 0600 "$T/sms.token"
a=$(account Тестова Анна "" anna@mail.example +79161234567)
enqueue "$a" account_confirmed "clear:1" '{}' >/dev/null
untouched() { sql "SELECT count(*) FROM notifications WHERE status = 'pending' AND attempts = 0"; }

CONFIG_EXTRA="[sms]
url = http://sms-gateway.example/send
token = $T/sms.token"
write_config
eb notify --channel sms
is "$RC" 1 "an http:// gateway on another host: exit 1"
like "$ERR" "plain http to another host: phone numbers and texts would cross the network in clear" \
	"and says why"
is "$(untouched)" 2 "both notices untouched"

CONFIG_EXTRA="[smtp]
url = smtp://mail.example:25
tls = none
from = no-reply@gosuslugi.example"
write_config
eb notify --channel email
is "$RC" 1 "tls = none to another host: exit 1"
like "$ERR" "tls = none to \"smtp://mail.example:25\", another host: mail would cross the network in clear" \
	"and says why"
is "$(untouched)" 2 "both notices still untouched"

# a DNS name that merely starts like a loopback address is another host
CONFIG_EXTRA="[smtp]
url = smtp://127.example.invalid:25
tls = none
from = no-reply@gosuslugi.example
[sms]
url = http://127.example.invalid/send
token = $T/sms.token"
write_config
eb notify --channel email
is "$RC" 1 "tls = none to the name 127.example.invalid: exit 1"
like "$ERR" "tls = none to \"smtp://127.example.invalid:25\", another host" "refused as another host"
unlike "$ERR" "resolve|connect" "before any look-up or connection"
eb notify --channel sms
is "$RC" 1 "http://127.example.invalid/ gateway: exit 1"
like "$ERR" "plain http to another host" "refused as another host"
is "$(untouched)" 2 "both notices still untouched"

# on this host plain transport is fine
start_smtp smtp
start_sms gw
CONFIG_EXTRA="[smtp]
url = smtp://localhost:$SMTP_PORT
tls = none
from = no-reply@gosuslugi.example
[sms]
url = http://127.0.0.1:$SMS_PORT/send
token = $T/sms.token"
write_config
eb --verbose notify
is "$RC" 0 "localhost SMTP and a 127.0.0.1 gateway without TLS: exit 0"
is "$(sql "SELECT count(*) FROM notifications WHERE status = 'sent'")" 2 "both notices sent"
is "$(grep -c 'notify.sent' <<<"$ERR")" 2 "the debug log has a line per notice sent"
unlike "$ERR" "79161234567|9161234567|anna@mail" "with neither the number nor the address in clear"
done_testing
