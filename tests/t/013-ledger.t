#!/usr/bin/env bash
# Batch ledger: one run per job at a time (75 for the second), a run killed
# with -9 leaves a row that the next run marks abandoned, and listing views.
. "$(dirname "$0")/../lib/harness.sh"
LR=$(dirname "$EB")/tools/ledger-run
[ -x "$LR" ] || LR=$TOP/build/asan/tools/ledger-run

"$LR" demo-job >/dev/null
is "$?" 0 "a batch runs and finishes"
is "$(sql "SELECT status || '/' || records FROM batches ORDER BY id DESC LIMIT 1")" "succeeded/1" "recorded as succeeded"

# two at once: the second exits 75 while the first holds the lock
ESIA_FAULT=ledger-run.hold:sleep=4 "$LR" demo-job >"$T/first" 2>&1 &
first=$!
for _ in $(seq 50); do grep -q batch "$T/first" && break; sleep 0.1; done
"$LR" demo-job >"$T/second" 2>&1
is "$?" 75 "a concurrent run of the same job exits 75"
like "$(cat "$T/second")" "another demo-job run holds the lock \(batch [0-9]+" "and names the holder"
"$LR" other-job >/dev/null 2>&1
is "$?" 0 "another job runs meanwhile"
"$LR" demo-job --shared >/dev/null 2>&1
is "$?" 0 "a shared-work run is not blocked by the job lock"
wait $first
is "$?" 0 "the first run finishes"

# kill -9 while holding the lock: next run marks the batch abandoned
ESIA_FAULT=ledger-run.hold:sleep=30 "$LR" crash-job >"$T/crash" 2>&1 &
victim=$!
for _ in $(seq 50); do grep -q batch "$T/crash" && break; sleep 0.1; done
dead=$(sed -n 's/^batch //p' "$T/crash")
is "$(sql "SELECT status FROM batches WHERE id = $dead")" running "the victim is running"
kill -9 $victim
wait $victim 2>/dev/null
"$LR" crash-job >/dev/null 2>&1
is "$?" 0 "the next run proceeds after kill -9"
is "$(sql "SELECT status FROM batches WHERE id = $dead")" abandoned "the dead run is marked abandoned"
like "$(sql "SELECT error FROM batches WHERE id = $dead")" "process died" "with a reason"

# a live run is never marked abandoned by another job's reaper
ESIA_FAULT=ledger-run.hold:sleep=3 "$LR" slow-job >"$T/slow" 2>&1 &
slow=$!
for _ in $(seq 50); do grep -q batch "$T/slow" && break; sleep 0.1; done
live=$(sed -n 's/^batch //p' "$T/slow")
"$LR" other-job >/dev/null 2>&1
is "$(sql "SELECT status FROM batches WHERE id = $live")" running "a live batch stays running"
wait $slow

eb batches --job crash-job
like "$OUT" "abandoned" "batches lists the abandoned run"
eb batches --failed --json
like "$OUT" "^\[\{\"id\":\"$dead\"" "batches --failed --json"
eb batches --status nonsense
is "$RC" 2 "unknown status is a usage error"
eb batch show "$dead"
is "$RC" 0 "batch show"
like "$OUT" "status +abandoned" "batch show has the status"
eb batch show 999999
is "$RC" 1 "batch show of a missing batch fails"
like "$ERR" "no batch 999999" "and says so"

# the reaper never overwrites a batch that finished while it looked: its
# snapshot still says running and the batch's lock is free (released by
# batch_finish), but the row it would mark has been committed as finished
fin=$(sql "INSERT INTO batches (job, host, pid) VALUES ('race-job', 'h', 1) RETURNING id")
sql "BEGIN; UPDATE batches SET status = 'succeeded', finished_at = now() WHERE id = $fin;
     SELECT pg_sleep(2); COMMIT" >/dev/null &
finisher=$!
sleep 0.7
eb rerun 999999
wait $finisher
is "$(sql "SELECT status FROM batches WHERE id = $fin")" succeeded \
	"a batch finishing while the reaper looks stays succeeded"
done_testing
