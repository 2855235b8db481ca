#!/usr/bin/env bash
# notify over the SMS gateway (a real python3 http.server on 127.0.0.1): the
# JSON and bearer token arrive; 500 is retried with backoff and later sent;
# 400 is dead after one try with the gateway's reason; gateway down -> 75;
# citizens with e-mail and phone get both; phones never in the log.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/notify.sh"

start_sms gw
start_smtp smtp
printf 'tok-%s\n' "$$" >"$T/sms.token"
chmod 0600 "$T/sms.token"
CONFIG_EXTRA="[smtp]
url = smtp://127.0.0.1:$SMTP_PORT
tls = none
[sms]
url = http://127.0.0.1:$SMS_PORT/send
token = $T/sms.token
[notify]
backoff_base = 120s
backoff_max = 1h"
write_config

# gateway JSON lines -> "id|to|text|auth" per message
received() {
	[ -f "$SMS_DIR/sms.jsonl" ] || return 0
	$PY -c '
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    b = o["body"]
    print("%s|%s|%s|%s|%s" % (o["mode"], b["id"], b["to"], b["text"], o["auth"]))' "$SMS_DIR/sms.jsonl"
}

olga=$(account 'Кузнецова' 'Ольга' 'Павловна' 'olga.k@mail.example' '+79161234567')
petr=$(account 'Орлов' 'Пётр' '' '' '+79035550011')
enqueue "$olga" letter_sent "ls:$olga" '{"tracking": "80093053624992"}' >/dev/null
enqueue "$petr" code_expiring "ce:$petr" '{"valid_until": "2027-01-05"}' >/dev/null
ls=$(sql "SELECT id FROM notifications WHERE event_key = 'ls:$olga' AND channel = 'sms'")
ce=$(sql "SELECT id FROM notifications WHERE event_key = 'ce:$petr' AND channel = 'sms'")
is "$(sql "SELECT count(*) FROM notifications WHERE event_key = 'ls:$olga'")" 2 \
	"a citizen with e-mail and phone gets one notice per channel"

eb notify
is "$RC" 0 "notify (both channels) exits 0"
like "$OUT" "sent 3, to retry 0, dead 0" "3 sent: Olga's e-mail and SMS, Petr's SMS"
is "$(received | sort)" "200|esia-notice-$ls|+79161234567|Госуслуги: письмо с кодом подтверждения отправлено, почтовый идентификатор 80093053624992.|Bearer tok-$$
200|esia-notice-$ce|+79035550011|Госуслуги: код подтверждения действителен до 05.01.2027 включительно. Введите его в разделе «Персональные данные».|Bearer tok-$$" \
	"the gateway received the JSON: id, phone, exact Russian text, bearer token"
is "$(mails "$SMTP_DIR" | grep -c .)" 1 "and Olga's e-mail went out too"
is "$(sql "SELECT string_agg(channel || ':' || status, ',' ORDER BY channel) FROM notifications WHERE event_key = 'ls:$olga'")" \
	"email:sent,sms:sent" "both of Olga's notices are sent"
unlike "$ERR" "9161234567|9035550011|olga" "no phone or address in the log"

# 500: transient, retried with backoff, sent on a later run
echo 500 >"$SMS_DIR/mode"
ivan=$(account 'Иванов' 'Иван' '' '' '+79261112233')
enqueue "$ivan" account_confirmed "ac:$ivan" '{}' >/dev/null
eb notify --channel sms
is "$RC" 0 "a 500 answer is not a failure of the run"
like "$OUT" "to retry 1" "it is counted as to retry"
is "$(sql "SELECT status || '/' || attempts FROM notifications WHERE event_key = 'ac:$ivan'")" "pending/1" \
	"the notice stays pending after one attempt"
like "$(sql "SELECT last_error FROM notifications WHERE event_key = 'ac:$ivan'")" "sms gateway 500: gateway overloaded" \
	"with the gateway's answer as the reason"
is "$(sql "SELECT next_attempt_at BETWEEN now() + interval '115 seconds' AND now() + interval '155 seconds'
	FROM notifications WHERE event_key = 'ac:$ivan'")" t "next attempt after backoff_base (+ up to 25% jitter)"
eb notify --channel sms
like "$OUT" "nothing to do" "not retried before its time"
# a second failure doubles the delay
sql "UPDATE notifications SET next_attempt_at = now() WHERE event_key = 'ac:$ivan'"
eb notify --channel sms
is "$(sql "SELECT next_attempt_at BETWEEN now() + interval '235 seconds' AND now() + interval '305 seconds'
	FROM notifications WHERE event_key = 'ac:$ivan'")" t "the second delay is doubled"
echo 200 >"$SMS_DIR/mode"
sql "UPDATE notifications SET next_attempt_at = now() - interval '1 second' WHERE event_key = 'ac:$ivan'"
eb notify --channel sms
is "$RC" 0 "later run exits 0"
is "$(sql "SELECT status || '/' || attempts FROM notifications WHERE event_key = 'ac:$ivan'")" "sent/3" \
	"sent on the third attempt"
is "$(received | grep -c "esia-notice-.*|+79261112233|")" 3 "the gateway saw three tries"

# 400: permanent, dead after one try with the reason
echo 400 >"$SMS_DIR/mode"
anna=$(account 'Белова' 'Анна' '' '' '+79000000001')
enqueue "$anna" check_passed "cp:$anna" '{}' >/dev/null
eb notify --channel sms
is "$RC" 65 "a refused SMS makes the run exit 65"
is "$(sql "SELECT status || '/' || attempts FROM notifications WHERE event_key = 'cp:$anna'")" "dead/1" \
	"dead after one try"
is "$(sql "SELECT last_error FROM notifications WHERE event_key = 'cp:$anna'")" \
	"sms gateway 400: destination not allowed" "with the gateway's reason"
sql "UPDATE notifications SET next_attempt_at = now() - interval '1 hour' WHERE event_key = 'cp:$anna'"
eb notify --channel sms
like "$OUT" "nothing to do" "a dead notice is not tried again"
is "$(received | grep -c "|+79000000001|")" 1 "the gateway saw exactly one try"
eb batches --job notify --failed
like "$OUT" "partial" "the batch with a dead notice is listed for the operator"

# a refusal that is not UTF-8 (the gateway's own charset): recorded, with its
# bytes as '?', along with the rest of the chunk; the good SMS goes once
echo "cp1251:+79000000003" >"$SMS_DIR/mode"
vera=$(account 'Соколова' 'Вера' '' '' '+79000000003')
gleb=$(account 'Глебов' 'Глеб' '' '' '+79000000004')
enqueue "$vera" check_passed "cp:$vera" '{}' >/dev/null
enqueue "$gleb" check_passed "cp:$gleb" '{}' >/dev/null
eb notify --channel sms
is "$RC" 65 "a refusal in cp1251: exit 65, not a failed run"
is "$(sql "SELECT status || '/' || attempts FROM notifications WHERE event_key = 'cp:$gleb'")" "sent/1" \
	"the good SMS is recorded sent"
is "$(sql "SELECT status || '/' || attempts FROM notifications WHERE event_key = 'cp:$vera'")" "dead/1" \
	"the refused one is dead"
like "$(sql "SELECT last_error FROM notifications WHERE event_key = 'cp:$vera'")" '^sms gateway 400: \?{5} \?{12}$' \
	"with the gateway's reason, its bytes that are not UTF-8 as '?'"
like "$ERR" 'notify.dead .*error="sms gateway 400: \?{5} \?{12}"' "logged the same way"
eb notify --channel sms
like "$OUT" "nothing to do" "nothing is sent again"
is "$(received | grep -c "|+79000000004|")" 1 "the gateway got the good SMS once"
echo 200 >"$SMS_DIR/mode"

# a reason that ends its string on a backslash and goes on with a field of
# its own: logged through log_quote(), one value, so the line's fields are
# still the job's (read back as a shell-quoted line, as logfmt readers do)
echo 'body:{"error": "busy\\" event=notify.sent to=forged"}' >"$SMS_DIR/mode"
rita=$(account 'Романова' 'Рита' '' '' '+79000000005')
enqueue "$rita" check_passed "cp:$rita" '{}' >/dev/null
eb notify --channel sms
is "$RC" 65 "a refusal with a backslash and a quote: dead, exit 65"
is "$(grep 'event=notify.dead' <<<"$ERR" | $PY -c '
import shlex, sys
try:
    f = shlex.split(sys.stdin.read())
    print(" ".join(x for x in f if x.startswith(("event=", "to=", "error="))))
except ValueError as e:
    print("unreadable:", e)')" 'event=notify.dead to=+7*******05 error=sms gateway 400: busy\\" event=notify.sent to=forged' \
	"the logged reason is one value: no forged event or recipient"
echo 200 >"$SMS_DIR/mode"

# a long reason is kept to 200 bytes, cut between characters: byte 200 falls
# inside a Cyrillic letter ('x' + 99 letters is 199 bytes)
printf 'body:{"error": "x%s"}\n' "$(printf 'Ж%.0s' $(seq 150))" >"$SMS_DIR/mode"
sara=$(account 'Савина' 'Сара' '' '' '+79000000006')
enqueue "$sara" check_passed "cp:$sara" '{}' >/dev/null
eb notify --channel sms
is "$RC/$(sql "SELECT last_error FROM notifications WHERE event_key = 'cp:$sara'")" \
	"65/sms gateway 400: x$(printf 'Ж%.0s' $(seq 99))" "a long reason: 200 bytes, the last whole letter kept"
echo 200 >"$SMS_DIR/mode"

# gateway down: exit 75, the notice stays pending with backoff
echo 200 >"$SMS_DIR/mode"
stop_server "$SMS_PID"
eb notify --channel sms
is "$RC" 0 "nothing due (dead ones excluded) even with the gateway down"
boris=$(account 'Борисов' 'Борис' '' '' '+79000000002')
enqueue "$boris" check_passed "cp:$boris" '{}' >/dev/null
eb notify --channel sms
is "$RC" 75 "gateway unreachable: exit 75"
like "$ERR" "notify.down" "logged as down"
is "$(sql "SELECT status || '/' || (next_attempt_at > now()) || '/' || attempts FROM notifications WHERE event_key = 'cp:$boris'")" \
	"pending/true/0" "the notice stays pending with backoff, no attempt counted"

# bad token file permissions are refused before anything is sent
chmod 0644 "$T/sms.token"
sql "UPDATE notifications SET next_attempt_at = now() - interval '1 second' WHERE event_key = 'cp:$boris'"
eb notify --channel sms
is "$RC" 1 "a token file readable by others fails the run"
is "$(sql "SELECT status || '/' || attempts FROM notifications WHERE event_key = 'cp:$boris'")" "pending/0" \
	"and leaves the notice untouched"
done_testing
