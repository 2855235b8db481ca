#!/usr/bin/env bash
# code_expiring names the same last valid day as the letter: a letter says
# "Код действителен до D включительно", expires_at is D+1 00:00 Moscow time,
# and `notify --expiring-days` must say "до D включительно", not D+1. A notice
# queued by an older version (payload "expires" = D+1) says D too.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/notify.sh"
LETTERS_EXTRA="code_ttl = 3d"
. "$TOP/tests/lib/letters.sh"

start_smtp smtp
CONFIG_EXTRA="$CONFIG_EXTRA
[smtp]
url = smtp://127.0.0.1:$SMTP_PORT
tls = none
from = no-reply@gosuslugi.example"
write_config

make_accounts
ebl print-letters
is "$RC" 65 "letters printed (one account skipped): exit 65"
B=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
ivan=$(sql "SELECT id FROM accounts WHERE family_name = 'Иванов'")
page=$(sql "SELECT page FROM letters WHERE account_id = $ivan")
txt=$(pdftotext -f "$page" -l "$page" "$T/spool/print/$B/letters.pdf" - | tr '\n' ' ')
D=$(printf '%s\n' "$txt" | grep -Eo 'действителен до [0-9]{2}\.[0-9]{2}\.[0-9]{4} включительно' |
	grep -Eo '[0-9]{2}\.[0-9]{2}\.[0-9]{4}')
like "$D" '^[0-9]{2}\.[0-9]{2}\.[0-9]{4}$' "the letter says the code is valid until D inclusive ($D)"
is "$(sql "SELECT to_char(expires_at AT TIME ZONE 'Europe/Moscow', 'DD.MM.YYYY HH24:MI:SS')
	FROM activation_codes WHERE account_id = $ivan")" \
	"$(sql "SELECT to_char(to_date('$D', 'DD.MM.YYYY') + 1, 'DD.MM.YYYY') || ' 00:00:00'")" \
	"expires_at is the midnight after D, Moscow time"

# schema 013 moves a code written by the old print-letters (on a UTC server:
# 06:00 Moscow time the day after D) back to the midnight after D, once
PGTZ=UTC sql "UPDATE activation_codes SET expires_at = ((to_date('$D', 'DD.MM.YYYY') + 1)
	AT TIME ZONE 'Europe/Moscow') WHERE account_id = $ivan" >/dev/null
is "$(sql "SELECT to_char(expires_at AT TIME ZONE 'Europe/Moscow', 'HH24:MI') FROM activation_codes WHERE account_id = $ivan")" \
	"06:00" "an old-style expiry (UTC server) ends at 06:00 Moscow time"
for i in 1 2; do
	PGTZ=UTC "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -f "$TOP/schema/013_code_expiry_moscow.sql" >/dev/null
	is "$(sql "SELECT to_char(expires_at AT TIME ZONE 'Europe/Moscow', 'DD.MM.YYYY HH24:MI:SS')
		FROM activation_codes WHERE account_id = $ivan")" \
		"$(sql "SELECT to_char(to_date('$D', 'DD.MM.YYYY') + 1, 'DD.MM.YYYY') || ' 00:00:00'")" \
		"013 (run $i): the code ends at the midnight after D again"
done

# a notice queued before the payload named the last valid day
oleg=$(sql "SELECT id FROM accounts WHERE family_name = 'Безадресный'")
enqueue "$oleg" code_expiring "legacy:$oleg" '{"expires": "2027-01-01"}' >/dev/null

eb notify --channel email --expiring-days 7
is "$RC" 0 "notify --expiring-days 7 exits 0"
M=$(mails "$SMTP_DIR")
ce=$(sql "SELECT id FROM notifications WHERE event = 'code_expiring' AND account_id = $ivan
	AND channel = 'email'")
body=$(mail_field "$M" "<esia-notice-$ce@gosuslugi.example>" body)
like "$body" "действителен до $D включительно\." "the e-mail names the letter's day D"
old=$(sql "SELECT id FROM notifications WHERE event_key = 'legacy:$oleg'")
like "$(mail_field "$M" "<esia-notice-$old@gosuslugi.example>" body)" "действителен до 31\.12\.2026 включительно\." \
	"an older notice's 'expires' (the day after) is shown as the last valid day"
done_testing
