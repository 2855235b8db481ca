#!/usr/bin/env bash
# The database restarts in the middle of export-checks and of
# import-responses (each stopped inside an open transaction): the job exits
# 75 (try again later), and the next run completes the work exactly once.
# This test restarts its own PostgreSQL, not the runner's shared one.
unset ESIA_TEST_PGHOST
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/export.sh"
. "$TOP/tests/sim/testlib.sh"

# --- export: the restart comes after a packet file is written, before its row
export_setup 30 "[pfr]
max_records = 10
trust_anchor = $T/pki/pfr-ca.pem
[fms]
max_records = 10
trust_anchor = $T/pki/fms-ca.pem"
ESIA_FAULT=export.before_mark:sleep=3 "$EB" export-checks --agency pfr >"$T/x.out" 2>"$T/x.err" &
pid=$!
wait_fault "$T/x.err" export.before_mark
ok $? "export is inside its first packet's transaction"
restart_pg
ok $? "the database restarts"
wait $pid
is "$?" 75 "export exits 75: the database went away"
like "$(cat "$T/x.err")" "server closed the connection|terminating connection|no connection" "and says so"
eb export-checks --agency pfr
ok $([ "$RC" = 0 ] || [ "$RC" = 65 ]; echo $?) "the next run succeeds ($RC)"
check_once pfr "after the restart" # no file of the broken transaction is left
is "$(sql "SELECT count(*) FROM batches WHERE status = 'abandoned'")" 1 "the interrupted batch is marked abandoned"

# --- import: the restart comes before the first packet's commit
eb export-checks --agency fms
answer pfr >/dev/null
answer fms >/dev/null
total=$(inbox_count)

# the workers' sessions end (the parent's stays): still "try again", 75
# (the sleep is long and the wait patient: under a loaded CI machine the
# sanitizer build takes seconds to verify the first packets)
ESIA_FAULT=import.before_commit:sleep=15 "$EB" import-responses --workers 2 >"$T/w.out" 2>"$T/w.err" &
pid=$!
# one worker sleeps before its commit, the other waits for the batch row it holds
in_tx="SELECT count(*) FROM pg_stat_activity WHERE application_name = 'esia-batch' AND xact_start IS NOT NULL"
for _ in $(seq 600); do [ "$(sql "$in_tx")" = 2 ] && break; sleep 0.05; done
is "$(sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	WHERE application_name = 'esia-batch' AND xact_start IS NOT NULL")" 2 \
	"both workers' sessions are ended inside their first packet"
wait $pid
is "$?" 75 "import exits 75 when its workers lost the database"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'response'")" 0 "and nothing was applied"

ESIA_FAULT=import.before_commit:sleep=3 "$EB" import-responses >"$T/i.out" 2>"$T/i.err" &
pid=$!
wait_fault "$T/i.err" import.before_commit
ok $? "import is inside its first packet's transaction"
restart_pg
wait $pid
is "$?" 75 "import exits 75: the database went away"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'response'")" 0 "the interrupted packet left nothing"
is "$(inbox_count)" "$total" "every answer is still in the inbox"
eb import-responses
is "$RC" 0 "the next run succeeds"
like "$OUT" "imported $total packets .* 0 duplicates, 0 rejected" "and applies every packet"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'response' AND status = 'applied'")" "$total" "each answer recorded once"
is "$(sql "SELECT count(*) FROM checks WHERE state = 'sent'")" 0 "every check answered"

# --- migrate: waiting for another migrator's lock when the database goes
"$PGBIN/psql" -X -q -A -t -c "SELECT pg_advisory_lock(1, hashtext('esia-batch:migrate'))" \
	-c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
holder=$!
newest=$(sql "SELECT max(version) FROM schema_version")
sql "DELETE FROM schema_version WHERE version = $newest" >/dev/null
"$EB" migrate >"$T/m.out" 2>"$T/m.err" &
pid=$!
for _ in $(seq 200); do
	[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'esia-batch'
	          AND wait_event_type = 'Lock'")" = 1 ] && break
	sleep 0.05
done
is "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'esia-batch' AND wait_event_type = 'Lock'")" 1 \
	"migrate waits for the other migrator"
restart_pg
wait $pid
is "$?" 75 "migrate exits 75: the database went away"
wait $holder
eb migrate
is "$RC/$OUT" "0/migrated from version $((newest - 1)) to $newest (1 migration)" "the next run applies the migration"
done_testing
