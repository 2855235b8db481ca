#!/usr/bin/env bash
# import-responses and export-checks overlap (cron starts both): a late answer
# being applied while the timeout pass looks at the same request. The
# importer locks the request packet, then the accounts, then the checks; the
# timeout pass locked the checks, then waited on the packet: a deadlock, one
# batch failed. Now the timeout pass takes the packets first, skipping those
# being imported: neither waits on the other in the opposite order.
. "$(dirname "$0")/../lib/harness.sh"
CONFIG_EXTRA="[signer]
key = $T/pki/esia-signer.key
cert = $T/pki/esia-signer.pem
[pfr]
response_timeout = 1h"
. "$TOP/tests/sim/testlib.sh"

load 6 5
requests pfr >/dev/null
answer pfr >/dev/null
req=$(sql "SELECT id FROM packets WHERE direction = 'request'")
# the answer is late: two hours passed since the request
sql "UPDATE checks SET sent_at = now() - interval '2 hours' WHERE state = 'sent';
     UPDATE packets SET created_at = now() - interval '2 hours' WHERE direction = 'request'" >/dev/null
sent=$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state = 'sent'")
[ "$sent" -gt 0 ] || bail "nothing sent"

# Lock waits of our jobs' sessions in this database.
waiting() {
	sql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
	      AND application_name = 'esia-batch' AND wait_event_type = 'Lock'"
}
# A session holds the accounts until $T/release exists: the importer gets the
# request packet, then waits for the accounts (the timing the race needs).
cat >"$T/hold.sql" <<SQL
BEGIN;
SELECT count(*) FROM (SELECT 1 FROM accounts FOR UPDATE) AS x;
\! while [ ! -e "$T/release" ]; do sleep 0.05; done
COMMIT;
SQL
"$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -f "$T/hold.sql" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 100); do
	[ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_class r ON r.oid = l.relation
	          WHERE r.relname = 'accounts' AND l.pid <> pg_backend_pid() AND l.granted")" -gt 0 ] && break
	sleep 0.05
done

"$EB" import-responses --agency pfr >"$T/imp.out" 2>"$T/imp.err" &
imp=$!
for _ in $(seq 200); do [ "$(waiting)" = 1 ] && break; sleep 0.05; done
is "$(waiting)" 1 "the import holds the request and waits for the accounts"

# the timeout pass: it must not take the checks of the request being imported
"$EB" export-checks --agency pfr >"$T/exp.out" 2>"$T/exp.err" &
exp=$!
for _ in $(seq 200); do
	kill -0 "$exp" 2>/dev/null || break
	[ "$(waiting)" = 2 ] && break
	sleep 0.05
done
# (the old code is now waiting for the request packet, holding its checks)
touch "$T/release"
wait "$holder"
wait "$exp"
exp_rc=$?
wait "$imp"
imp_rc=$?

is "$imp_rc" 0 "import-responses exits 0"
is "$exp_rc" 0 "export-checks exits 0"
unlike "$(cat "$T/imp.err" "$T/exp.err")" "deadlock" "no deadlock"
is "$(sql "SELECT count(*) FROM batches WHERE status = 'failed'")" 0 "no failed batch"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state IN ('passed', 'failed')")" "$sent" "the late answer applies to every check"
is "$(sql "SELECT status FROM packets WHERE id = '$req'")" answered "the request is answered, not superseded"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'request'")" 1 "nothing is requested again"

done_testing
