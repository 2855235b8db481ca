#!/usr/bin/env bash
# The read-only auditor role (esia_auditor): it can run the DB-backed views
# (batches, batch show) and is refused anything that writes - archive leaves
# the ledger, the archives table and the files untouched.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/archive-fixtures.sh"

AUD=t_auditor_$$
sql "CREATE ROLE $AUD LOGIN IN ROLE esia_auditor" >/dev/null
trap 'sql "DROP ROLE IF EXISTS $AUD" >/dev/null 2>&1; _harness_cleanup' EXIT

B=$(new_batch export-checks)
R=$(request "$B" pfr)
nb=$(sql "SELECT count(*) FROM batches")

PGUSER=$AUD eb batches
is "$RC" 0 "the auditor lists batches" || diag "$ERR"
like "$OUT" "export-checks" "and sees them"
PGUSER=$AUD eb batch show "$B"
is "$RC" 0 "the auditor runs batch show" || diag "$ERR"
like "$OUT" "$R" "and sees the batch's packets"

PGUSER=$AUD eb archive
is "$RC" 1 "the auditor cannot run archive"
like "$ERR" "permission denied" "refused by the database"
is "$(sql "SELECT count(*) FROM batches")" "$nb" "no ledger row written"
is "$(sql "SELECT count(*) FROM archives")" 0 "no archive recorded"
[ -f "$SP/outbox/pfr/$R.xml" ]
ok $? "the packet is still in the outbox"
is "$(find "$AR" -name '*.tar.*' 2>/dev/null | wc -l)" 0 "no archive file written"

PGUSER=$AUD "$PGBIN/psql" -X -q -c "UPDATE batches SET status = 'failed' WHERE id = $B" >/dev/null 2>&1
isnt "$?" 0 "a direct UPDATE as the auditor is refused"
PGUSER=$AUD "$PGBIN/psql" -X -q -c "INSERT INTO audit_events (event) VALUES ('x')" >/dev/null 2>&1
isnt "$?" 0 "a direct INSERT as the auditor is refused"

eb archive
is "$RC" 0 "the batch runner archives"
PGUSER=$AUD eb batches --job archive
like "$OUT" "archive +succeeded" "and the auditor sees that run"
done_testing
