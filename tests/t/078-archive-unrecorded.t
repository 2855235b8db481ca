#!/usr/bin/env bash
# An archive file the database does not record: a run killed after writing
# an archive, before recording it, leaves one at the next chain position. The
# next run removes it (under the lock, before it writes anything), whatever
# its compression, so no two archives claim one position. Any other
# unrecorded archive is refused, never removed: it may be the only copy.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/archive-fixtures.sh"
eb_fault() { # POINT ARGS... (the subshell keeps bash's "Killed" notice off the output)
	RC=$( (ESIA_FAULT=$1 "$EB" "${@:2}" >"$T/out" 2>"$T/err"; echo $?) 2>/dev/null)
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}
YM=$(date -u -d '2 days ago' +%Y/%m)

# 1. killed after the write, then the compression changes: the rerun writes
# .tar.zst and the .tar.xz left behind must not stay beside it
X0=$(new_batch export-checks); request "$X0" pfr >/dev/null
eb archive
is "$RC" 0 "a first archive"
X1=$(new_batch export-checks); request "$X1" pfr >/dev/null
eb_fault archive.after_write:kill archive
is "$RC" 137 "killed after the write"
[ -f "$AR/$YM/$X1.tar.xz" ]
ok $? "an unrecorded archive is left"
CONFIG_EXTRA=${CONFIG_EXTRA/compression = xz/compression = zstd}
write_config
eb archive
is "$RC" 0 "the rerun with zstd succeeds" || diag "$ERR"
like "$ERR" "event=archive.unrecorded path=$YM/$X1.tar.xz batch=$X1 seq=2 action=removed" "logs the removal"
is "$(cd "$AR" && find . -name "$X1.tar.*" | sort | tr '\n' ' ')" "./$YM/$X1.tar.zst " "one archive of the batch"
is "$(sql "SELECT path FROM archives WHERE batch_id = $X1")" "$YM/$X1.tar.zst" "the recorded one"
eb audit verify
is "$RC" 0 "the chain verifies" || diag "$OUT"
X2=$(new_batch export-checks); request "$X2" pfr >/dev/null
eb archive
eb audit verify
is "$RC" 0 "and still does one archive later" || diag "$OUT"

# 2. killed after writing batch X3; the next run archives only X4 (X3 is too
# recent for it): X3's leftover must not hold X4's position
X3=$(new_batch export-checks succeeded '1 hour'); request "$X3" pfr >/dev/null
X4=$(new_batch export-checks succeeded '3 days'); request "$X4" pfr >/dev/null
eb_fault archive.after_write:kill archive --older-than 0
is "$RC" 137 "killed after writing the newer batch"
eb archive
is "$RC" 0 "the daily run archives the older one" || diag "$ERR"
is "$(find "$AR" -name "$X3.tar.*" | wc -l)" 0 "the leftover is gone"
eb audit verify
is "$RC" 0 "the chain verifies" || diag "$OUT"
eb archive --older-than 0
is "$RC" 0 "the newer batch is archived later" || diag "$ERR"
eb audit verify
is "$RC" 0 "and the chain still verifies" || diag "$OUT"

# 3. an unrecorded archive that no killed run leaves (a copy under another
# batch's name, one from an earlier position) is refused and kept
cp "$(archive_of "$X0")" "$AR/$YM/99999.tar.xz"
cp "$(archive_of "$X0")" "$AR/$YM/$X0.tar.xz.bak"
mkdir -p "$AR/old" && cp "$(archive_of "$X0")" "$AR/old/$X0.tar.xz"
X5=$(new_batch export-checks); Q5=$(request "$X5" pfr)
eb archive
is "$RC" 1 "a stray unrecorded archive stops the run"
like "$ERR" "archive \"$AR/$YM/99999.tar.xz\" is not recorded in the database and is not what a killed run leaves \(batch $X0 at chain position 1" "and says why"
like "$ERR" "move it out of the archive folder, or restore the database" "and what to do"
[ -f "$AR/$YM/99999.tar.xz" ] && [ -f "$AR/$YM/$X0.tar.xz.bak" ] && [ -f "$AR/old/$X0.tar.xz" ]
ok $? "it is kept, and so is what is not named like an archive or not in YYYY/MM"
is "$(sql "SELECT count(*) FROM archives WHERE batch_id = $X5")" 0 "nothing archived past it"
[ -f "$SP/outbox/pfr/$Q5.xml" ]
ok $? "the batch's originals are in place"
rm "$AR/$YM/99999.tar.xz" "$AR/$YM/$X0.tar.xz.bak" "$AR/old/$X0.tar.xz"
eb archive
is "$RC" 0 "once it is moved away the run succeeds" || diag "$ERR"
eb audit verify
is "$RC" 0 "the chain verifies" || diag "$OUT"
done_testing
