#!/usr/bin/env bash
# import-responses --workers N: the packets spread over N processes under one
# batch give the same result as one process; a worker killed mid-run leaves a
# failed batch, and its rerun imports the rest from the inbox exactly once.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/sim/testlib.sh"

load 200 11
requests pfr 10 >/dev/null
requests fms 10 >/dev/null
answer pfr >/dev/null
answer fms >/dev/null
is "$(inbox_count)" 40 "twenty answers per agency"

eb import-responses --workers 0
is "$RC" 2 "--workers 0 is a usage error"
eb import-responses --help
like "$OUT" "--workers N" "--help documents --workers"

# three workers, each killed just before its third commit: six packets in
faulty import.before_commit:kill@3 import-responses --workers 3
is "$RC" 1 "a killed worker fails the run"
like "$(cat "$T/err")" "import worker [0-9] of 3 died \(signal 9\)" "and says which worker died"
like "$(cat "$T/err")" "import.workers workers=3 packets=40" "three workers shared forty packets"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'response'")" 6 "each worker committed two packets"
is "$(sql "SELECT status || ' ' || records FROM batches WHERE job = 'import-responses'")" \
	"failed $(sql "SELECT sum(records) FROM packets WHERE direction = 'response'")" \
	"the batch is failed and counts exactly what its workers committed"
is "$(inbox_count)" 34 "the other packets wait in the inbox"
failed=$(sql "SELECT id FROM batches WHERE job = 'import-responses'")

# the parent killed: its workers go with it (the next run takes the work over)
ESIA_FAULT=import.packet:sleep=30 "$EB" import-responses --workers 2 >/dev/null 2>&1 &
parent=$!
for _ in $(seq 100); do [ "$(pgrep -P "$parent" | wc -l)" = 2 ] && break; sleep 0.1; done
kids=$(pgrep -P "$parent" | tr '\n' ' ')
is "$(echo $kids | wc -w)" 2 "two workers started"
kill -9 "$parent"
wait "$parent" 2>/dev/null
for _ in $(seq 50); do alive=$(for k in $kids; do [ -d "/proc/$k" ] && echo "$k"; done | wc -l); [ "$alive" = 0 ] && break; sleep 0.1; done
is "$alive" 0 "the workers die with their parent"
is "$(inbox_count)" 34 "nothing more was imported"
abandoned=$(sql "SELECT max(id) FROM batches WHERE job = 'import-responses'")

# the rerun of the failed batch (its --workers 3) imports what is left
eb -v rerun "$failed"
is "$RC" 0 "the rerun of the failed batch succeeds"
like "$OUT" "imported 34 packets .* 0 duplicates, 0 rejected" "it applies the 34 left in the inbox"
like "$ERR" "import.workers workers=3 packets=34" "with its three workers"
is "$(sql "SELECT rerun_of FROM batches WHERE id = (SELECT max(id) FROM batches)")" "$failed" "its batch records rerun_of"
is "$(sql "SELECT count(*) FROM batches WHERE job = 'import-responses' AND status = 'succeeded' AND records = $(sql "SELECT sum(records) FROM packets WHERE direction = 'response' AND batch_id = (SELECT max(id) FROM batches)")")" 1 \
	"its batch counts the results its workers applied"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'response' AND status = 'applied'")" 40 "each packet recorded once"
is "$(sql "SELECT count(*) FROM checks WHERE state = 'sent'")" 0 "every check answered"
awk -F, '$2 == "ok" || $2 == "bad_address" || $2 == "mixed_name" { print $1 }' "$T/reg/fates.csv" >"$T/want"
sql "SELECT id FROM accounts WHERE level = 'standard' ORDER BY id" >"$T/got"
is "$(diff "$T/want" "$T/got" && echo same)" same "the right citizens promoted"
is "$(sql "SELECT count(*) - count(DISTINCT account_id) FROM audit_events WHERE event = 'account.standard'")" 0 "no promotion recorded twice"
is "$(sql "SELECT count(*) FROM audit_events WHERE event = 'account.standard'")" "$(wc -l <"$T/want")" "one promotion event per citizen"
is "$(sql "SELECT count(*) FROM notifications WHERE event = 'check_passed'")" \
	"$(sql "SELECT count(email) + count(phone) FROM accounts WHERE level = 'standard'")" \
	"one passed notice per channel of each promoted citizen"
is "$(sql "SELECT count(*) FROM accounts a WHERE data_status = 'rejected' AND NOT EXISTS (SELECT 1 FROM checks c WHERE c.account_id = a.id AND c.state = 'failed')")" 0 \
	"every rejected account has a failed check"
is "$(inbox_count)/$(ls "$SP/processed/pfr" "$SP/processed/fms" | grep -c xml)" "0/40" "all forty packets in processed/"

# the abandoned batch's rerun finds the inbox empty: a batch of nothing
eb rerun "$abandoned"
is "$RC/$(sql "SELECT status || ' ' || records FROM batches WHERE rerun_of = $abandoned")" "0/succeeded 0" \
	"the rerun of the abandoned batch has nothing left to import"
eb status
unlike "$OUT" "abandoned batches|failed batches" "status lists neither batch any more"

# a few packets: the configured workers are not started for them
cp "$SP/processed/pfr/$(ls "$SP/processed/pfr" | head -1)" "$SP/inbox/pfr/again.xml"
eb -v import-responses
is "$RC" 0 "one duplicate packet"
unlike "$ERR" "import.workers" "no workers for one packet"
like "$OUT" "1 duplicate," "reported as a duplicate"
done_testing
