#!/usr/bin/env bash
# The database restarts while print-letters is about to commit (the PDF and
# registry written, codes not yet recorded): the run exits 75 and keeps the
# print folder, since a COMMIT lost with the connection might have committed.
# The next run finds no letters recorded for it, removes it as void, and
# prints every letter once. This test restarts its own PostgreSQL.
unset ESIA_TEST_PGHOST
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/letters.sh"

make_many 3
ESIA_FAULT=print.before_commit:sleep=3 "$EB" print-letters >"$T/p.out" 2>"$T/p.err" &
pid=$!
wait_fault "$T/p.err" print.before_commit
ok $? "print-letters is about to commit its records"
restart_pg
ok $? "the database restarts"
wait $pid
is "$?" 75 "print-letters exits 75: the database went away"
dead=$(ls "$T/spool/print")
ok $([ -n "$dead" ] && [ -f "$T/spool/print/$dead/letters.pdf" ]; echo $?) \
	"its print folder is kept while the outcome of its commit is unknown"
is "$(sql "SELECT count(*) FROM activation_codes")" 0 "no code was recorded"

eb print-letters
is "$RC" 0 "the next run succeeds"
like "$ERR" "print.void_removed void_batch=$dead" "and removes the void folder"
is "$(ls "$T/spool/print")" "$(sql "SELECT max(id) FROM batches")" "only the new print folder is left"
is "$(sql "SELECT count(*) FROM letters")" 3 "three letters"
is "$(sql "SELECT count(*) FROM activation_codes WHERE status = 'live'")" 3 "three live codes, one each"
done_testing
