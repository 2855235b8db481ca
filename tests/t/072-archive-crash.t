#!/usr/bin/env bash
# kill -9 during archive at each interesting point: the originals stay or the
# archive is recorded, no half archive is left (temporaries are swept), and a
# rerun finishes the work exactly once.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/archive-fixtures.sh"

two_batches() { # -> sets X1 X2 (batches) Q1 Q2 (packet ids)
	X1=$(new_batch export-checks); Q1=$(request "$X1" pfr)
	X2=$(new_batch print-letters); print_files "$X2"
}
originals_here() { [ -f "$SP/outbox/pfr/$Q1.xml" ] && [ -f "$SP/print/$X2/letters.pdf" ]; }
originals_gone() { [ ! -e "$SP/outbox/pfr/$Q1.xml" ] && [ ! -e "$SP/print/$X2" ]; }
temps() { find "$AR" -name '.*.tmp.*' | wc -l; }
# eb under a fault that kills it; the subshell keeps bash's "Killed" notice off the output
eb_fault() { # POINT ARGS...
	RC=$( (ESIA_FAULT=$1 "$EB" "${@:2}" >"$T/out" 2>"$T/err"; echo $?) 2>/dev/null)
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

# 1. killed while writing the archive: a temporary, no archive, originals in place
two_batches
eb_fault archive.during_write:kill archive
is "$RC" 137 "killed during the write"
originals_here
ok $? "originals in place"
is "$(temps)" 1 "a temporary is left by the dead writer"
is "$(find "$AR" -name '*.tar.xz' ! -name '.*' | wc -l)" 0 "no archive file"
is "$(sql "SELECT count(*) FROM archives")" 0 "nothing recorded"
eb archive
is "$RC" 0 "the rerun succeeds" || diag "$ERR"
is "$(temps)" 0 "the temporary was swept"
originals_gone
ok $? "originals removed after recording"
is "$(sql "SELECT count(*) || '/' || count(DISTINCT batch_id) FROM archives")" "2/2" "each batch archived once"
eb audit verify
is "$RC" 0 "the chain verifies" || diag "$OUT"

# 2. killed after the archive file is in place, before it is recorded
two_batches
eb_fault archive.after_write:kill archive
is "$RC" 137 "killed after the write"
[ -f "$(archive_of "$X1")" ]
ok $? "the archive file is there"
is "$(sql "SELECT count(*) FROM archives WHERE batch_id = $X1")" 0 "but not recorded"
originals_here
ok $? "originals in place"
eb archive
is "$RC" 0 "the rerun succeeds" || diag "$ERR"
is "$(sql "SELECT count(*) FROM archives WHERE batch_id IN ($X1, $X2)")" 2 "both recorded once"
originals_gone
ok $? "originals removed"
eb audit verify
is "$RC" 0 "the rewritten archive fits the chain" || diag "$OUT"

# 3. killed after the commit, before the originals are removed (second batch)
two_batches
eb_fault archive.after_commit:kill@2 archive
is "$RC" 137 "killed after the second commit"
is "$(sql "SELECT count(*) FROM archives WHERE batch_id IN ($X1, $X2)")" 2 "both archives recorded"
is "$(sql "SELECT count(*) FROM archives WHERE cleaned_at IS NULL")" 1 "one still has its originals"
[ -f "$SP/print/$X2/letters.pdf" ]
ok $? "its originals are still there"
echo changed >"$SP/print/$X2/orders.json"
eb archive
is "$RC" 0 "the rerun finishes the removal" || diag "$ERR"
[ ! -e "$SP/print/$X2/letters.pdf" ]
ok $? "archived originals removed"
[ -f "$SP/print/$X2/orders.json" ]
ok $? "a file that changed since it was archived is kept"
like "$ERR" "differs from its archived copy" "with a warning"
is "$(sql "SELECT count(*) FROM archives WHERE cleaned_at IS NULL")" 0 "cleanup recorded"
is "$(sql "SELECT count(*) FROM archives")" 6 "no archive made twice"
eb audit verify
is "$RC" 0 "six archives, one chain" || diag "$OUT"
is "$(sql "SELECT string_agg(status, ',' ORDER BY id) FROM batches WHERE job = 'archive'")" \
	"abandoned,succeeded,abandoned,succeeded,abandoned,succeeded" "killed runs are marked abandoned, reruns succeed"

# two runs at once: the second waits for nothing and exits 75
X3=$(new_batch export-checks); request "$X3" fms >/dev/null
ESIA_FAULT=archive.after_write:sleep=3 "$EB" archive >"$T/first" 2>&1 &
first=$!
for _ in $(seq 50); do [ -n "$(find "$AR" -name "$X3.tar.xz")" ] && break; sleep 0.1; done
eb archive
is "$RC" 75 "a concurrent archive run exits 75"
like "$ERR" "another archive run holds the lock" "and says why"
wait $first
is "$?" 0 "the first run finishes"

# 4. killed after the commit, then the archive is replaced before the rerun:
# the originals are the only good copy and stay until the recorded one is back
X4=$(new_batch print-letters); print_files "$X4"
eb_fault archive.after_commit:kill archive
is "$RC" 137 "killed after the commit"
A4=$(archive_of "$X4")
cp "$A4" "$T/good.tar.xz"
rm -rf "$T/z" && mkdir "$T/z" && tar -xJf "$A4" -C "$T/z" &&
	tar -cJf "$A4" --format=pax -C "$T/z" MANIFEST MANIFEST.p7s
eb archive
is "$RC" 1 "a replaced archive fails the cleanup"
like "$ERR" "is not the one recorded" "and says so"
like "$ERR" "originals of batch $X4 kept: put the recorded archive back" "and what to do"
[ -f "$SP/print/$X4/letters.pdf" ] && [ -f "$SP/print/$X4/f103/f103.csv" ]
ok $? "the originals are kept"
is "$(sql "SELECT count(*) FROM archives WHERE cleaned_at IS NULL")" 1 "the cleanup is still to do"
# a record made to match the file does not help: the members are checked too
sql "UPDATE archives SET sha256 = '$(sha256sum "$A4" | cut -d' ' -f1)' WHERE batch_id = $X4" >/dev/null
eb archive
is "$RC" 1 "an archive missing its files fails the cleanup"
like "$ERR" "failed its check: .*print/$X4/letters.pdf" "naming the missing file"
[ -f "$SP/print/$X4/letters.pdf" ]
ok $? "the originals are still kept"
sql "UPDATE archives SET sha256 = '$(sha256sum "$T/good.tar.xz" | cut -d' ' -f1)' WHERE batch_id = $X4" >/dev/null
cp "$T/good.tar.xz" "$A4"
eb archive
is "$RC" 0 "with the recorded archive back the rerun finishes" || diag "$ERR"
[ ! -e "$SP/print/$X4" ]
ok $? "and removes the originals"
eb audit verify
is "$RC" 0 "the chain verifies" || diag "$OUT"
done_testing
