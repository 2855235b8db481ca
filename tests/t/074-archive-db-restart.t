#!/usr/bin/env bash
# The database restarts while archive has written an archive file but not yet
# recorded it: the run exits 75, the originals stay, and the next run
# archives each batch exactly once, removes the originals, and the chain
# verifies. This test restarts its own PostgreSQL.
unset ESIA_TEST_PGHOST
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/archive-fixtures.sh"

X1=$(new_batch export-checks); Q1=$(request "$X1" pfr)
X2=$(new_batch print-letters); print_files "$X2"

ESIA_FAULT=archive.after_write:sleep=3 "$EB" archive >"$T/a.out" 2>"$T/a.err" &
pid=$!
wait_fault "$T/a.err" archive.after_write
ok $? "archive has written its first archive file"
restart_pg
ok $? "the database restarts"
wait $pid
is "$?" 75 "archive exits 75: the database went away"
is "$(sql "SELECT count(*) FROM archives")" 0 "nothing recorded"
[ -f "$SP/outbox/pfr/$Q1.xml" ] && [ -f "$SP/print/$X2/letters.pdf" ]
ok $? "the originals are in place"

eb archive
is "$RC" 0 "the next run succeeds" || diag "$ERR"
is "$(sql "SELECT count(*) || '/' || count(DISTINCT batch_id) FROM archives")" "2/2" "each batch archived once"
[ ! -e "$SP/outbox/pfr/$Q1.xml" ] && [ ! -e "$SP/print/$X2" ]
ok $? "the originals are removed after recording"
is "$(find "$AR" -name '.*.tmp.*' | wc -l)" 0 "no temporary is left"
eb audit verify
is "$RC" 0 "the chain verifies" || diag "$OUT"
done_testing
