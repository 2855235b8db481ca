#!/usr/bin/env bash
# notify and the operator: `rerun` of a partial notify batch sends its dead
# notices again (attempts reset); --expiring-days enqueues code_expiring once
# per live code; status shows dead notices.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/notify.sh"

start_sms gw
printf 'tok\n' >"$T/sms.token"
chmod 0600 "$T/sms.token"
CONFIG_EXTRA="[sms]
url = http://127.0.0.1:$SMS_PORT/send
token = $T/sms.token"
write_config

# a dead SMS (gateway says 400), then the cause is fixed and the batch rerun
echo 400 >"$SMS_DIR/mode"
a=$(account 'Зайцева' 'Мария' '' '' '+79001112233')
b=$(account 'Волков' 'Илья' '' '' '+79001112234')
enqueue "$a" check_passed "cp:$a" '{}' >/dev/null
enqueue "$b" check_passed "cp:$b" '{}' >/dev/null
eb notify --channel sms
is "$RC" 65 "two refused SMS: exit 65"
bad=$(sql "SELECT id FROM batches WHERE job = 'notify' ORDER BY id DESC LIMIT 1")
is "$(sql "SELECT status FROM batches WHERE id = $bad")" partial "the batch is partial"
is "$(sql "SELECT count(*) FROM notifications WHERE status = 'dead' AND sent_batch_id = $bad")" 2 \
	"its dead notices point at it"
eb batch show "$bad"
like "$OUT" "sms +dead +2" "batch show counts the dead notices"

# an unrelated dead notice of another batch is not revived by this rerun
c=$(account 'Лисин' 'Олег' '' '' '+79001112235')
enqueue "$c" check_passed "cp:$c" '{}' >/dev/null
eb notify --channel sms
other=$(sql "SELECT id FROM batches WHERE job = 'notify' ORDER BY id DESC LIMIT 1")

echo 200 >"$SMS_DIR/mode"
eb rerun "$bad"
is "$RC" 0 "rerun of the partial batch exits 0"
new=$(sql "SELECT id FROM batches WHERE rerun_of = $bad")
isnt "$new" "" "the rerun is a new batch recording rerun_of"
is "$(sql "SELECT string_agg(status || '/' || attempts, ',') FROM notifications WHERE account_id IN ($a, $b)")" \
	"sent/1,sent/1" "its dead notices are sent (attempts counted afresh)"
is "$(sql "SELECT status FROM notifications WHERE account_id = $c")" dead \
	"another batch's dead notice stays dead"
is "$(grep -c '"+79001112233"' "$SMS_DIR/sms.jsonl")" 2 "the gateway saw the refused try and the resend"
eb rerun "$bad"
is "$RC" 1 "a batch already rerun successfully is refused"

# --expiring-days: live codes expiring soon get one code_expiring per code
sql "INSERT INTO batches (id, job, status, finished_at) VALUES (900, 'print-letters', 'succeeded', now());
     INSERT INTO tracking_numbers (barcode, batch_id) VALUES ('80093053624992', 900), ('80093053625005', 900),
            ('80093053625012', 900);
     INSERT INTO letters (id, account_id, batch_id, barcode, page) VALUES
            (901, $a, 900, '80093053624992', 1), (902, $b, 900, '80093053625005', 2),
            (903, $c, 900, '80093053625012', 3);
     INSERT INTO activation_codes (account_id, letter_id, code_hmac, expires_at, status) VALUES
            ($a, 901, decode(repeat('ab', 32), 'hex'), '2030-01-15 12:00+03'::timestamptz, 'live'),
            ($b, 902, decode(repeat('cd', 32), 'hex'), now() + interval '30 days', 'live'),
            ($c, 903, decode(repeat('ef', 32), 'hex'), now() + interval '2 days', 'used')"
sql "UPDATE activation_codes SET expires_at = now() + interval '3 days' WHERE account_id = $a"
want=$(sql "SELECT to_char((expires_at - interval '1 second') AT TIME ZONE 'Europe/Moscow', 'DD.MM.YYYY')
	FROM activation_codes WHERE account_id = $a")
eb notify --expiring-days 7
is "$RC" 0 "notify --expiring-days 7 exits 0"
is "$(sql "SELECT count(*) FROM notifications WHERE event = 'code_expiring'")" 1 \
	"one notice: the live code within 7 days (not the 30-day one, not the used one)"
is "$(tail -n 1 "$SMS_DIR/sms.jsonl" | $PY -c 'import json,sys; print(json.load(sys.stdin)["body"]["text"])')" \
	"Госуслуги: код подтверждения действителен до $want включительно. Введите его в разделе «Персональные данные»." \
	"the SMS names the code's last valid day"
eb notify --expiring-days 7
like "$OUT" "sent 0" "a second run enqueues nothing new"
is "$(sql "SELECT count(*) FROM notifications WHERE event = 'code_expiring'")" 1 "still one notice"
eb notify --expiring-days 0
is "$RC" 2 "--expiring-days 0 is a usage error"
done_testing
