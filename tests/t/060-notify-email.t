#!/usr/bin/env bash
# notify over SMTP to a real aiosmtpd on 127.0.0.1: Python's email package
# decodes subject and body back to the exact Russian text; one connection for
# the whole run; stable Message-ID on a resend; refused recipient dead at
# once, a 451 retried with backoff and dead after max_attempts; addresses
# never in the log; -q (cron, every minute) prints nothing on stdout.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/notify.sh"

eb notify --help
is "$RC" 0 "--help exits 0"
like "$OUT" "usage: esia-batch notify" "--help prints the usage"
like "$OUT" "75 " "--help documents exit 75"
eb notify --channel fax
is "$RC" 2 "unknown channel is a usage error"
like "$ERR" 'unknown channel "fax"' "and names it"
eb notify --limit 0
is "$RC" 2 "--limit 0 is a usage error"
eb notify
is "$RC" 0 "an empty outbox: exit 0"
like "$OUT" "nothing to do" "and says so"
eb -q notify
is "$RC/$OUT" "0/" "-q with an empty outbox: exit 0, nothing on stdout (cron would mail it)"

start_smtp smtp
CONFIG_EXTRA="[smtp]
url = smtp://127.0.0.1:$SMTP_PORT
tls = none
from = no-reply@gosuslugi.example
[notify]
backoff_base = 60s
max_attempts = 2"
write_config

ivan=$(account 'Петров' 'Иван' 'Сергеевич' 'ivan.petrov@mail.example' '+79123456789')
anna=$(account 'Смирнова' 'Анна' '' 'anna.smirnova@mail.example' '')
enqueue "$ivan" check_failed "cf:$ivan" '{"reason": "паспорт недействителен"}' >/dev/null
enqueue "$ivan" letter_sent "ls:$ivan" '{"tracking": "80093053624992"}' >/dev/null
enqueue "$ivan" code_expiring "ce:$ivan" '{"valid_until": "2026-12-31"}' >/dev/null
enqueue "$anna" check_passed "cp:$anna" '{}' >/dev/null
enqueue "$anna" account_confirmed "ac:$anna" '{}' >/dev/null
# many more, so that connection reuse is visible
for i in $(seq 1 25); do
	a=$(account 'Иванов' "Пётр" 'Ильич' "citizen$i@mail.example" '')
	enqueue "$a" check_passed "cp:$a" '{}' >/dev/null
done
is "$(sql "SELECT count(*) FROM notifications WHERE channel = 'email'")" 30 "30 e-mails queued"
is "$(sql "SELECT count(*) FROM notifications WHERE channel = 'sms'")" 3 "3 sms queued (Ivan has a phone)"
dup=$(enqueue "$ivan" check_failed "cf:$ivan" '{"reason": "x"}')
is "$dup" 0 "the same event key enqueues nothing twice"

eb notify --channel email
is "$RC" 0 "notify --channel email exits 0"
like "$OUT" "sent 30, to retry 0, dead 0" "reports 30 sent"
M=$(mails "$SMTP_DIR")
is "$(printf '%s\n' "$M" | grep -c .)" 30 "the server stored 30 messages"
is "$(cat "$SMTP_DIR/connections")" 1 "over one SMTP connection"
is "$(sql "SELECT count(*) FROM notifications WHERE channel = 'email' AND status = 'sent'
	AND sent_at IS NOT NULL AND sent_batch_id IS NOT NULL AND attempts = 1")" 30 "all e-mails marked sent"
is "$(sql "SELECT count(*) FROM notifications WHERE channel = 'sms' AND status = 'pending'")" 3 \
	"sms untouched by --channel email"
is "$(sql "SELECT status || '/' || records FROM batches WHERE job = 'notify'")" "succeeded/30" \
	"the batch is recorded with 30 records"

cf=$(sql "SELECT id FROM notifications WHERE event_key = 'cf:$ivan' AND channel = 'email'")
ls=$(sql "SELECT id FROM notifications WHERE event_key = 'ls:$ivan' AND channel = 'email'")
ce=$(sql "SELECT id FROM notifications WHERE event_key = 'ce:$ivan' AND channel = 'email'")
cp=$(sql "SELECT id FROM notifications WHERE event_key = 'cp:$anna' AND channel = 'email'")
ac=$(sql "SELECT id FROM notifications WHERE event_key = 'ac:$anna' AND channel = 'email'")

mid="<esia-notice-$cf@gosuslugi.example>"
is "$(mail_field "$M" "$mid" subject)" "Госуслуги: данные не прошли проверку" "check_failed: subject decodes to the Russian text"
is "$(mail_field "$M" "$mid" body)" "Здравствуйте, Иван Сергеевич!

Ваши персональные данные не прошли проверку.
Причина: паспорт недействителен

Исправьте данные в разделе «Персональные данные» личного кабинета: после сохранения они будут отправлены на проверку повторно.

--
Это письмо отправлено автоматически, отвечать на него не нужно.
Портал государственных услуг Российской Федерации" "check_failed: body decodes to the exact text with the reason"
is "$(mail_field "$M" "$mid" to)" "ivan.petrov@mail.example" "To is the citizen's address"
is "$(mail_field "$M" "$mid" from)" "no-reply@gosuslugi.example" "From is [smtp] from"
is "$(mail_field "$M" "$mid" charset)" "utf-8" "charset UTF-8"
is "$(mail_field "$M" "$mid" cte)" "base64" "base64 transfer encoding"
is "$(mail_field "$M" "$mid" date_ok)" "True" "a Date header that parses"
is "$(printf '%s\n' "$M" | grep -c '"seven_bit": false')" 0 "every message is 7-bit on the wire"
is "$(printf '%s\n' "$M" | $PY -c 'import json,sys; print(max(json.loads(l)["longest_line"] for l in sys.stdin))' | awk "{print (\$1 <= 78)}")" 1 \
	"no line longer than 78 (RFC 5322)"

mid="<esia-notice-$ls@gosuslugi.example>"
is "$(mail_field "$M" "$mid" subject)" "Госуслуги: письмо с кодом подтверждения отправлено" "letter_sent: long subject decodes (several encoded words)"
is "$(mail_field "$M" "$mid" body)" "Здравствуйте, Иван Сергеевич!

Мы отправили вам заказное письмо с кодом подтверждения личности.
Почтовый идентификатор: 80093053624992
Отследить письмо можно на сайте pochta.ru.

Когда письмо придёт, войдите на портал и введите код в разделе «Персональные данные».

--
Это письмо отправлено автоматически, отвечать на него не нужно.
Портал государственных услуг Российской Федерации" "letter_sent: body with the tracking number"

mid="<esia-notice-$ce@gosuslugi.example>"
is "$(mail_field "$M" "$mid" subject)" "Госуслуги: срок действия кода подтверждения истекает" "code_expiring: subject"
is "$(mail_field "$M" "$mid" body)" "Здравствуйте, Иван Сергеевич!

Код подтверждения из заказного письма действителен до 31.12.2026 включительно.
Введите код в разделе «Персональные данные» личного кабинета не позднее этого дня.
Если письмо не пришло, код можно запросить повторно.

--
Это письмо отправлено автоматически, отвечать на него не нужно.
Портал государственных услуг Российской Федерации" "code_expiring: body with the date as DD.MM.YYYY"

mid="<esia-notice-$cp@gosuslugi.example>"
is "$(mail_field "$M" "$mid" subject)" "Госуслуги: ваши данные проверены" "check_passed: subject"
is "$(mail_field "$M" "$mid" body)" "Здравствуйте, Анна!

Ваши СНИЛС и паспортные данные успешно прошли проверку в Социальном фонде России и МВД России.
Ваша учётная запись на портале Госуслуг теперь стандартная.

--
Это письмо отправлено автоматически, отвечать на него не нужно.
Портал государственных услуг Российской Федерации" "check_passed: greeting without a patronymic"

mid="<esia-notice-$ac@gosuslugi.example>"
is "$(mail_field "$M" "$mid" subject)" "Госуслуги: учётная запись подтверждена" "account_confirmed: subject"
like "$(mail_field "$M" "$mid" body)" "^Здравствуйте, Анна!

Ваша учётная запись подтверждена\. Теперь вам доступны все электронные государственные услуги\." \
	"account_confirmed: body"

unlike "$ERR" "ivan|anna|citizen|petrov|smirnova" "the log names no address"

# a resend (as after a crash before the commit) carries the same Message-ID
sql "UPDATE notifications SET status = 'pending', next_attempt_at = now() WHERE id = $ls"
eb --quiet notify --channel email
is "$RC" 0 "a resend run exits 0"
is "$OUT" "" "--quiet: no summary on stdout after sending"
M=$(mails "$SMTP_DIR")
is "$(printf '%s\n' "$M" | grep -c "\"message_id\": \"<esia-notice-$ls@gosuslugi.example>\"")" 2 \
	"the resent message has the same Message-ID"
is "$(cat "$SMTP_DIR/connections")" 2 "the second run opened one more connection"

eb notify --channel email
is "$RC" 0 "nothing due: exit 0"
like "$OUT" "nothing to do" "and says so"

# refused (550) -> dead at once; 451 -> retried with backoff, dead at max_attempts
r=$(account 'Отказов' 'Олег' '' 'refuse.me@mail.example' '')
enqueue "$r" account_confirmed "ac:$r" '{}' >/dev/null
tf=$(account 'Временный' 'Тимур' '' 'tempfail.me@mail.example' '')
enqueue "$tf" account_confirmed "ac:$tf" '{}' >/dev/null
eb -v notify --channel email
is "$RC" 65 "a refused recipient makes the run exit 65"
is "$(sql "SELECT status || '/' || attempts FROM notifications WHERE event_key = 'ac:$r'")" "dead/1" \
	"the refused notice is dead after one try"
like "$(sql "SELECT last_error FROM notifications WHERE event_key = 'ac:$r'")" "smtp 550" "with the reason"
is "$(sql "SELECT status || '/' || attempts FROM notifications WHERE event_key = 'ac:$tf'")" "pending/1" \
	"a 451 stays pending"
is "$(sql "SELECT next_attempt_at > now() + interval '55 seconds' AND next_attempt_at < now() + interval '80 seconds'
	FROM notifications WHERE event_key = 'ac:$tf'")" t "with a backoff of backoff_base plus jitter"
like "$(sql "SELECT last_error FROM notifications WHERE event_key = 'ac:$tf'")" "smtp 451" "and the reason"
is "$(sql "SELECT status FROM batches WHERE job = 'notify' ORDER BY id DESC LIMIT 1")" partial \
	"the batch is partial"
like "$ERR" "notify.dead .*to=\*\*\*@mail.example" "the log masks the address"
unlike "$ERR" "refuse|tempfail" "and never shows the local part"

sql "UPDATE notifications SET next_attempt_at = now() - interval '1 second' WHERE event_key = 'ac:$tf'"
eb notify --channel email
is "$(sql "SELECT status || '/' || attempts FROM notifications WHERE event_key = 'ac:$tf'")" "dead/2" \
	"dead after max_attempts transient failures"
is "$RC" 65 "exit 65 when a notice died"
done_testing
