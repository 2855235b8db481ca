#!/usr/bin/env bash
# Two export-checks at once: with --parallel they share the work by row claims
# and no check lands in two packets; without it the second exits 75 (the lock
# is per agency, so PFR and FMS may run together). --limit caps a run.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/export.sh"
export_setup 400 "[pfr]
max_records = 10
[fms]
max_records = 10"

# --limit first, on a copy of the state we can count
eb export-checks --agency pfr --limit 25
is "$RC" 65 "a limited run (with refusals) exits 65"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state IN ('sent', 'failed')")" 25 "--limit 25 takes exactly 25 checks"
is "$(sql "SELECT max(records) FROM packets")" 10 "in packets of at most 10"

# two parallel runs over both agencies, slowed down a little per packet so they overlap
ESIA_FAULT=export.after_commit:sleep=0 "$EB" --parallel export-checks >"$T/a.out" 2>"$T/a.err" &
a=$!
"$EB" --parallel export-checks >"$T/b.out" 2>"$T/b.err" &
b=$!
wait $a
ra=$?
wait $b
rb=$?
ok $([ "$ra" = 65 ] || [ "$ra" = 0 ]; echo $?) "the first parallel run succeeds ($ra)"
ok $([ "$rb" = 65 ] || [ "$rb" = 0 ]; echo $?) "the second parallel run succeeds ($rb)"
is "$(sql "SELECT count(DISTINCT batch_id) FROM packets WHERE batch_id > 1")" 4 "both runs wrote packets for both agencies (they shared the work)"
is "$(sql "SELECT count(*) FROM checks WHERE state = 'pending'")" 0 "nothing left pending"
is "$(sql "SELECT count(*) FROM check_queue")" 0 "nothing left in the work queue"
for ag in pfr fms; do
	all_packet_ids $ag | sort -n >"$T/$ag.ids"
	is "$(uniq -d "$T/$ag.ids" | wc -l)" 0 "$ag: no check is in two packets"
	is "$(wc -l <"$T/$ag.ids")" "$(sql "SELECT count(*) FROM checks WHERE agency = '$ag' AND state = 'sent'")" "$ag: every sent check is in a packet file"
	is "$(sql "SELECT id FROM checks WHERE agency = '$ag' AND state = 'sent' ORDER BY id" | md5sum)" "$(md5sum <"$T/$ag.ids")" "$ag: the same checks"
done
is "$(sql "SELECT count(*) FROM checks WHERE state = 'sent' AND attempts <> 1")" 0 "no check was sent twice"

# without --parallel: the second run of the same agency exits 75
sql "UPDATE checks SET state = 'pending', packet_id = NULL, attempts = 0, sent_at = NULL WHERE id IN (SELECT id FROM checks WHERE state = 'sent' ORDER BY id LIMIT 40)" >/dev/null
ESIA_FAULT=export.after_commit:sleep=3 "$EB" export-checks --agency pfr >"$T/h.out" 2>"$T/h.err" &
h=$!
for _ in $(seq 50); do grep -q batch.start "$T/h.err" && break; sleep 0.1; done
eb export-checks --agency pfr
is "$RC" 75 "a second run of the same agency exits 75"
like "$ERR" "another export-checks run holds the lock" "and says who holds it"
eb export-checks --agency fms
is "$RC" 0 "the other agency runs meanwhile"
wait $h
is "$?" 0 "the first run finishes"

# a plain run and --parallel runs of one agency keep out of each other's way:
# the plain run's claim locks no rows, so meeting a --parallel run's row
# locks it would deadlock (or double a check); whichever comes second exits 75
requeue() { sql "UPDATE checks SET state = 'pending', packet_id = NULL, attempts = 0, sent_at = NULL WHERE id IN (SELECT id FROM checks WHERE agency = 'pfr' AND state = 'sent' ORDER BY id LIMIT 20)" >/dev/null; }
requeue
ESIA_FAULT=export.before_mark:sleep=2 "$EB" --parallel export-checks --agency pfr >"$T/p.out" 2>"$T/p.err" &
p=$!
wait_fault "$T/p.err" export.before_mark
eb export-checks --agency pfr
is "$RC" 75 "a plain run meeting a --parallel run of the agency exits 75"
like "$ERR" "another export-checks run holds the lock" "and says so"
wait $p
is "$?" 0 "the --parallel run finishes alone"
requeue
ESIA_FAULT=export.before_mark:sleep=2 "$EB" export-checks --agency pfr >"$T/q.out" 2>"$T/q.err" &
q=$!
wait_fault "$T/q.err" export.before_mark
eb --parallel export-checks --agency pfr
is "$RC" 75 "a --parallel run meeting a plain run of the agency exits 75"
wait $q
is "$?" 0 "the plain run finishes alone"
is "$(sql "SELECT count(*) FROM batches WHERE status = 'failed'")" 0 "no batch failed"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state = 'pending'")" 0 "nothing left pending"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state = 'sent' AND attempts <> 1")" 0 \
	"no check was sent twice"

# rerun replays a --parallel run as --parallel (the global option is not in
# the recorded argv): beside a plain run of the agency it exits 75 as well
requeue
eb --parallel export-checks --agency pfr
pb=$(sql "SELECT max(id) FROM batches WHERE job = 'export-checks'")
is "$(sql "SELECT params->>'parallel' FROM batches WHERE id = $pb")" true "the batch records --parallel"
requeue
ESIA_FAULT=export.before_mark:sleep=2 "$EB" export-checks --agency pfr >"$T/r.out" 2>"$T/r.err" &
r=$!
wait_fault "$T/r.err" export.before_mark
eb rerun --force "$pb"
is "$RC" 75 "its rerun meets the plain run as a --parallel run: exit 75"
wait $r
requeue
eb rerun --force "$pb"
is "$RC" 0 "alone, the rerun runs"
is "$(sql "SELECT params->>'parallel' FROM batches WHERE rerun_of = $pb ORDER BY id DESC LIMIT 1")" true \
	"and records --parallel again"
done_testing
