#!/usr/bin/env bash
# A name in rejected/ is reused: a batch's packets row names a file that a
# later import batch may have quarantined under the same name. The archive of
# the first batch takes rejected/<agency>/NAME (and its .reason) only when the
# .reason's third line names that batch; the other file waits for its own.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/archive-fixtures.sh"

E=$(new_batch export-checks); Q=$(request "$E" pfr)
X=$(new_batch import-responses); A=$(response "$X" "$Q")
Y=$(new_batch import-responses running)
N=answer-$A.xml
mkdir -p "$SP/rejected/pfr"
printf 'another packet, same name, refused by a later run\n' >"$SP/rejected/pfr/$N"
printf 'untrusted signer\nfile: /in/%s\nbatch: %s\n' "$N" "$Y" >"$SP/rejected/pfr/$N.reason"

eb archive
is "$RC" 0 "archive" || diag "$ERR"
tar -tJf "$(archive_of "$X")" >"$T/x.list"
grep -qx "processed/pfr/$N" "$T/x.list"
ok $? "the batch's own answer is archived"
grep -q "^rejected/" "$T/x.list"
ok $((!$?)) "a later batch's rejected file of the same name is not" || diag "$(cat "$T/x.list")"
[ -f "$SP/rejected/pfr/$N" ] && [ -f "$SP/rejected/pfr/$N.reason" ]
ok $? "it stays in rejected/ with its reason"

# once the later batch is finished, its archive takes it
sql "UPDATE batches SET status = 'succeeded', finished_at = now() - interval '2 days' WHERE id = $Y" >/dev/null
eb archive
is "$RC" 0 "archive the later batch" || diag "$ERR"
tar -tJf "$(archive_of "$Y")" | sort >"$T/y.list"
is "$(cat "$T/y.list" | grep -v '^MANIFEST' | tr '\n' ' ')" "rejected/pfr/$N rejected/pfr/$N.reason " \
	"in the archive of the batch its .reason names"
[ ! -e "$SP/rejected/pfr/$N" ]
ok $? "and only then removed"
eb audit verify
is "$RC" 0 "the chain verifies" || diag "$OUT"
done_testing
