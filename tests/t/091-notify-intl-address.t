#!/usr/bin/env bash
# E-mail to internationalised addresses (.рф domains are common here), to a
# real aiosmtpd: strictly ASCII as it is by default, then offering SMTPUTF8.
# The expected A-labels come from Python's idna codec, not from our code.
# Before: the domain went out as raw UTF-8 (libcurl converts it only through
# the locale, "C" under cron) and every such notice died on "500".
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/notify.sh"

ace() { $PY -c 'import sys; print(sys.argv[1].encode("idna").decode())' "$1"; }
envelope_of() { # DIR RCPT-SUBSTRING -> "from|options|rcpt" of the first such envelope
	$PY - "$1/envelopes" "$2" <<'PYEOF'
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(l)
    if any(sys.argv[2] in r for r in e["rcpt"]):
        print("%s|%s|%s" % (e["from"], ",".join(e["options"]), ",".join(e["rcpt"])))
        break
PYEOF
}
POCHTA=$(ace 'почта.рф')
GOS=$(ace 'госуслуги.рф')
is "$POCHTA" "xn--80a1acny.xn--p1ai" "the oracle: почта.рф in A-labels"

use_smtp() { # FROM: the configuration for the server started last
	CONFIG_EXTRA="[smtp]
url = smtp://127.0.0.1:$SMTP_PORT
tls = none
from = $1"
	write_config
}
start_smtp ascii
use_smtp 'no-reply@госуслуги.рф'

a1=$(account 'Петров' 'Иван' 'Сергеевич' 'ivan@почта.рф' '')
a2=$(account 'Петрова' 'Анна' '' 'Anna.Petrova@ПОЧТА.РФ' '')
a3=$(account 'Сидоров' 'Пётр' '' 'пётр@почта.рф' '')
a4=$(account 'Кузнецов' 'Олег' '' 'oleg@пример☃.рф' '')
a5=$(account 'Иванов' 'Ильй' '' 'ilya@mail.example' '')
for a in $a1 $a2 $a3 $a4 $a5; do enqueue "$a" check_passed "cp:$a" '{}' >/dev/null; done
id_of() { sql "SELECT id FROM notifications WHERE event_key = 'cp:$1' AND channel = 'email'"; }

eb notify --channel email
is "$RC" 65 "a notice that can never go out: exit 65"
like "$OUT" "sent 3, to retry 0, dead 2" "three sent, two dead"
is "$(sql "SELECT status FROM notifications WHERE event_key = 'cp:$a1'")" sent \
	"ivan@почта.рф: sent through a server that takes only ASCII"
is "$(envelope_of "$SMTP_DIR" "ivan@")" "no-reply@$GOS||ivan@$POCHTA" \
	"envelope: both domains in A-labels, no SMTPUTF8 asked"
M=$(mails "$SMTP_DIR")
mid1="<esia-notice-$(id_of "$a1")@$GOS>"
is "$(mail_field "$M" "$mid1" to)" "ivan@$POCHTA" "To: in A-labels (the Message-ID domain too)"
is "$(mail_field "$M" "$mid1" from)" "no-reply@$GOS" "From: in A-labels"
is "$(mail_field "$M" "$mid1" seven_bit)" True "the message is 7-bit"
is "$(envelope_of "$SMTP_DIR" "Anna.")" "no-reply@$GOS||Anna.Petrova@$POCHTA" \
	"ПОЧТА.РФ is mapped to lower case (UTS 46); the local part stays as written"
is "$(envelope_of "$SMTP_DIR" "ilya@")" "no-reply@$GOS||ilya@mail.example" "an ASCII address as before"
like "$(sql "SELECT status || ' ' || last_error FROM notifications WHERE event_key = 'cp:$a3'")" \
	"^dead smtp 5[0-9][0-9]: the server does not offer SMTPUTF8, which an address with a non-ASCII part before @ needs" \
	"пётр@почта.рф to a server without SMTPUTF8: dead, and the reason says why"
like "$(sql "SELECT status || ' ' || last_error FROM notifications WHERE event_key = 'cp:$a4'")" \
	"^dead the e-mail address's domain is not a valid internationalised domain name" \
	"a domain IDNA refuses (a snowman): dead without a word to the server"
is "$(wc -l <"$SMTP_DIR/envelopes")" 3 "the server got the three messages only"
unlike "$ERR" "пётр|ivan@|oleg@" "no local part in the log"

# the same citizen, a server that offers SMTPUTF8
stop_server "$SMTP_PID"
start_smtp utf8 --smtputf8
use_smtp 'no-reply@госуслуги.рф'
a6=$(account 'Сидоров' 'Пётр' '' 'пётр@почта.рф' '')
enqueue "$a6" check_passed "cp:$a6" '{}' >/dev/null
eb notify --channel email
is "$RC/$(sql "SELECT status FROM notifications WHERE event_key = 'cp:$a6'")" 0/sent \
	"пётр@почта.рф through a server offering SMTPUTF8: sent"
is "$(envelope_of "$SMTP_DIR" "пётр@")" "no-reply@$GOS|SMTPUTF8|пётр@$POCHTA" \
	"MAIL FROM asks for SMTPUTF8; the local part goes as UTF-8, the domain in A-labels"
M=$(mails "$SMTP_DIR")
is "$(mail_field "$M" "<esia-notice-$(id_of "$a6")@$GOS>" to)" "пётр@$POCHTA" "To: carries the UTF-8 local part (RFC 6532)"
# a refusal from a server that does offer SMTPUTF8 is the server's own, not
# blamed on SMTPUTF8 (the EHLO capability was seen)
a8=$(account 'Сидоров' 'Пётр' '' 'refuseпётр@почта.рф' '')
enqueue "$a8" check_passed "cp:$a8" '{}' >/dev/null
eb notify --channel email
like "$(sql "SELECT status || ' ' || last_error FROM notifications WHERE event_key = 'cp:$a8'")" \
	"^dead smtp 550: " "a mailbox the SMTPUTF8 server refuses: dead on its 550"
unlike "$(sql "SELECT last_error FROM notifications WHERE event_key = 'cp:$a8'")" "SMTPUTF8" \
	"and the reason does not claim the server lacks SMTPUTF8"

# the sender must reach every server
use_smtp 'робот@госуслуги.рф'
a7=$(account 'Орлов' 'Игорь' '' 'igor@mail.example' '')
enqueue "$a7" check_passed "cp:$a7" '{}' >/dev/null
eb notify --channel email
isnt "$RC" 0 "a sender with a non-ASCII part before @: the run fails"
like "$ERR" 'from "робот@госуслуги.рф": the part before @ must be ASCII' "and says why"
is "$(sql "SELECT status FROM notifications WHERE event_key = 'cp:$a7'")" pending "the notice waits"

done_testing
