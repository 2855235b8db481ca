#!/usr/bin/env bash
# import-responses, happy path and reasons: answers from the simulated PFR and
# FMS (xsltproc + xmlsec1, from the fixture registries) promote exactly the
# citizens both agencies confirm; every other fate gets its reason; a stale
# answer does not promote; a packet imported twice changes nothing.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/sim/testlib.sh"

load 60 7
requests pfr 25 >/dev/null
requests fms 25 >/dev/null
is "$(ls "$SP/outbox/pfr" | wc -l)/$(ls "$SP/outbox/fms" | wc -l)" "3/3" "three request packets per agency"
# citizen 5 edits their data after the export: the answers become stale
stale=$(awk -F, '$2 == "ok" { print $1; exit }' "$T/reg/fates.csv")
sql "UPDATE accounts SET data_version = data_version + 1 WHERE id = $stale"
answer pfr >/dev/null
answer fms >/dev/null
is "$(inbox_count)" 6 "the simulator answered every request"

eb import-responses
is "$RC" 0 "import exits 0"
like "$OUT" "imported 6 packets \(120 results" "and reports the packets and results"

# what the fixture generator built each citizen to be (not computed by our code)
awk -F, '$2 == "ok" || $2 == "bad_address" || $2 == "mixed_name" { print $1 }' "$T/reg/fates.csv" |
	grep -vx "$stale" >"$T/want-standard"
sql "SELECT id FROM accounts WHERE level = 'standard' ORDER BY id" >"$T/got-standard"
is "$(diff "$T/want-standard" "$T/got-standard" && echo same)" same "promoted exactly the citizens both agencies confirmed"
is "$(sql "SELECT count(*) FROM accounts WHERE level = 'standard' AND data_status <> 'verified'")" 0 "promoted accounts are verified"
is "$(sql "SELECT count(*) FROM audit_events WHERE event = 'account.standard'")" "$(wc -l <"$T/want-standard")" "one audit event per promotion"
is "$(sql "SELECT count(DISTINCT account_id) FROM notifications WHERE event = 'check_passed'")" "$(wc -l <"$T/want-standard")" "one check_passed notice per promoted citizen"
is "$(sql "SELECT count(*) FROM notifications WHERE event = 'check_passed' AND event_key !~ '^check_passed:[0-9]+:1$'")" 0 "keyed by account and data version"

reason_of() { sql "SELECT data_status || '|' || coalesce(data_reject_reason, '') FROM accounts WHERE id = $1"; }
first_of() { awk -F, -v f="$1" '$2 == f { print $1; exit }' "$T/reg/fates.csv"; }
like "$(reason_of "$(first_of pfr_notfound)")" "^rejected\|СНИЛС не найден в ПФР" "PFR not found: rejected with the reason"
like "$(reason_of "$(first_of pfr_mismatch)")" "^rejected\|Данные не совпадают с данными ПФР.*ФИО не совпадает" "PFR mismatch: rejected with the reason and the agency's message"
like "$(reason_of "$(first_of fms_invalid)")" "^rejected\|Паспорт недействителен: утрачен \(с [0-9.]+\): укажите данные действующего паспорта" "FMS invalid: rejected with reason and date"
like "$(reason_of "$(first_of fms_notfound)")" "^rejected\|Паспорт не найден в ФМС" "FMS not found: rejected with the reason"
bad=$(awk -F, '$2 ~ /^(pfr_|fms_|bad_snils)/ { print $1 }' "$T/reg/fates.csv" | sort -n | paste -sd, -)
is "$(sql "SELECT count(*) FROM accounts WHERE id IN ($bad) AND (level <> 'simplified' OR data_status <> 'rejected')")" 0 "every failed citizen stays simplified, data rejected"
is "$(sql "SELECT count(*) FROM accounts WHERE id NOT IN ($bad) AND data_status = 'rejected'")" 0 "nobody else is rejected"
is "$(sql "SELECT count(*) FROM checks c WHERE c.state = 'failed' AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.event = 'check_failed' AND n.event_key = 'check_failed:' || c.id AND n.payload->>'reason' = c.reason)")" 0 "each failed check has its check_failed notice with the reason"
channels_sql="concat_ws(',', CASE WHEN a.email IS NOT NULL THEN 'email' END, CASE WHEN a.phone IS NOT NULL THEN 'sms' END)"
is "$(sql "SELECT count(*) FROM checks c JOIN accounts a ON a.id = c.account_id WHERE c.state = 'failed'
	AND (SELECT string_agg(n.channel || ':' || n.account_id, ',' ORDER BY n.channel) FROM notifications n
	WHERE n.event_key = 'check_failed:' || c.id) IS DISTINCT FROM
	(SELECT string_agg(ch || ':' || a.id, ',') FROM unnest(string_to_array($channels_sql, ',')) ch)")" 0 \
	"to that citizen, once on each channel the citizen has"
is "$(sql "SELECT count(DISTINCT $channels_sql) FROM checks c JOIN accounts a ON a.id = c.account_id
	WHERE c.state = 'failed'")" 3 "(failed citizens with e-mail only, phone only, and both)"
is "$(sql "SELECT result FROM checks WHERE account_id = $(first_of pfr_notfound) AND agency = 'pfr'")" not_found "the check records the answer"

# the stale answers
is "$(sql "SELECT level || '|' || data_status FROM accounts WHERE id = $stale")" "simplified|pending" "a stale answer does not promote"
is "$(sql "SELECT string_agg(agency || ':' || data_version || ':' || state, ',' ORDER BY agency, data_version) FROM checks WHERE account_id = $stale")" \
	"fms:1:superseded,fms:2:pending,pfr:1:superseded,pfr:2:pending" "its checks are superseded and fresh ones wait for the new data"

is "$(sql "SELECT count(*) FROM checks WHERE state = 'sent'")" 0 "no check is left waiting"
is "$(sql "SELECT string_agg(DISTINCT status, ',') FROM packets WHERE direction = 'request'")" answered "every request packet is answered"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'response' AND status = 'applied' AND in_reply_to IS NOT NULL")" 6 "response packets recorded"
is "$(inbox_count)" 0 "the inbox is empty"
is "$(ls "$SP/processed/pfr" | wc -l)/$(ls "$SP/processed/fms" | wc -l)" 3/3 "the packets are in processed/"
is "$(sql "SELECT status || '/' || records || '/' || rejected FROM batches WHERE job = 'import-responses'")" "succeeded/120/0" "the batch records the work"

eb import-responses
is "$RC/$OUT" "0/nothing to import" "an empty inbox: nothing to do, exit 0"

# the same packet again
one=$(ls "$SP/processed/pfr" | head -1)
cp "$SP/processed/pfr/$one" "$SP/inbox/pfr/again.xml"
dump "$T/before"
eb import-responses --agency pfr
is "$RC" 0 "a duplicate packet is not an error"
like "$OUT" "1 duplicate," "and is reported as a duplicate"
like "$ERR" "import.duplicate" "and logged as one"
dump "$T/after"
is "$(cmp "$T/before" "$T/after" && echo same)" same "it changes nothing in the database"
[ -f "$SP/processed/pfr/again.xml" ] && [ "$(inbox_count)" = 0 ]
ok $? "it moves to processed/"

# one import at a time: a second run while the first holds the lock exits 75
cp "$SP/processed/pfr/$one" "$SP/inbox/pfr/third.xml"
ESIA_FAULT=import.packet:sleep=4 "$EB" import-responses >"$T/first.out" 2>&1 &
first=$!
for _ in $(seq 50); do [ "$(sql "SELECT count(*) FROM batches WHERE status = 'running'")" = 1 ] && break; sleep 0.1; done
eb import-responses --parallel
is "$RC" 75 "a second import while one runs exits 75 (even with --parallel)"
wait $first
is "$?" 0 "the first run finishes"

eb import-responses --agency nsi
is "$RC" 2 "an unknown agency is a usage error"
eb import-responses --help
like "$OUT" "Exit: 0 all applied" "--help documents the exit codes"
done_testing
