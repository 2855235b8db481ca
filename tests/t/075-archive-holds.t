#!/usr/bin/env bash
# archive holds back what must not leave yet, however old the batch:
#  - a print batch while any of its activation codes can still be redeemed
#    (letters.pdf holds them in clear, and archives are copied to auditors);
#  - an export batch while one of its packets still waits for upload to an
#    agency with upload_url (the outbox file is the only copy).
# Each is archived once that is over (codes used, expired, revoked by a rerun
# or blocked; packet uploaded). The log counts what was held, nothing more.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/archive-fixtures.sh"
LETTERS_EXTRA=$CONFIG_EXTRA
. "$TOP/tests/lib/letters.sh"
# PFR packets are uploaded (nothing is contacted here: archive only reads the
# setting); FMS packets are handed over by other means
sed -i '/^\[pfr\]$/a upload_url = https://127.0.0.1:9/upload' "$T/esia-batch.conf"

age() { sql "UPDATE batches SET finished_at = now() - interval '2 days' WHERE id = $1" >/dev/null; }
held() { printf '%s\n' "$ERR" | grep 'event=archive.held'; }
live_codes() {
	sql "SELECT count(*) FROM activation_codes k JOIN letters l ON l.id = k.letter_id
	     WHERE l.batch_id = $1 AND k.status = 'live' AND k.expires_at > now()"
}
# every code printed in an archived print batch, redeemed: none may confirm
redeem_archived() { # BATCH -> "confirmed" count
	local x=$T/x$1 n=0 acct code
	mkdir -p "$x"
	tar -xf "$(archive_of "$1")" -C "$x" "print/$1/letters.pdf"
	while read -r acct code; do
		eb redeem "$acct" "$code"
		[ "$OUT" = confirmed ] && n=$((n + 1))
	done < <(read_codes "$x/print/$1")
	echo "$n"
}

# --- a print batch with live codes, an export batch with a packet not yet uploaded ---
make_accounts
eb print-letters
P1=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
is "$(live_codes "$P1")" 3 "print batch issued three live codes"
read_codes "$SP/print/$P1" >"$T/codes1"
age "$P1"
X=$(new_batch export-checks); QX1=$(request "$X" pfr); QX2=$(request "$X" fms)
Y=$(new_batch export-checks); QY=$(request "$Y" fms)

eb archive
is "$RC" 0 "archive runs" || diag "$ERR"
like "$OUT" "archived batch $Y " "an export batch whose packets need no upload (FMS) is archived as before"
unlike "$OUT" "archived batch $P1 " "the print batch with live codes is not, though past older_than"
unlike "$OUT" "archived batch $X " "nor the export batch with a PFR packet still 'written'"
[ -f "$SP/print/$P1/letters.pdf" ]
ok $? "letters.pdf stays in the print folder"
[ -f "$SP/outbox/pfr/$QX1.xml" ] && [ -f "$SP/outbox/fms/$QX2.xml" ]
ok $? "the waiting packet and its batch's other packet stay in the outbox"
[ ! -e "$SP/outbox/fms/$QY.xml" ]
ok $? "the archived batch's packet is removed"
is "$(sql "SELECT count(*) FROM archives WHERE batch_id IN ($P1, $X)")" 0 "neither held batch is recorded"
like "$(held)" "level=info .*event=archive.held print_batches=1 export_batches=1$" \
	"an info line counts the batches held back"
is "$(grep -cFf <(cut -d' ' -f2 "$T/codes1") <<<"$ERR")" 0 "no code in the log"

# nothing else to do: the quick path says so too, without a ledger row
n=$(sql "SELECT count(*) FROM batches")
eb archive
is "$RC" 0 "a run with only held batches exits 0"
like "$OUT" "nothing to archive" "and says there is nothing to archive"
like "$(held)" "event=archive.held print_batches=1 export_batches=1$" "and logs what is held back"
is "$(sql "SELECT count(*) FROM batches")" "$n" "without a ledger row"

# one code used, one expired: the third is still live
read -r A1 C1 < <(sed -n 1p "$T/codes1")
read -r A2 _ < <(sed -n 2p "$T/codes1")
eb redeem "$A1" "$C1"
is "$OUT" confirmed "a code of the batch is used"
sql "UPDATE activation_codes SET expires_at = now() - interval '1 minute'
     WHERE account_id = $A2 AND status = 'live'" >/dev/null
is "$(live_codes "$P1")" 1 "one code of the batch still live"
# the PFR packet is uploaded meanwhile
sql "UPDATE packets SET status = 'uploaded' WHERE id = '$QX1'" >/dev/null
eb archive
is "$RC" 0 "archive runs" || diag "$ERR"
like "$OUT" "archived batch $X \(export-checks, 2 files\)" "the export batch is archived once its packet is uploaded"
[ ! -e "$SP/outbox/pfr/$QX1.xml" ] && [ ! -e "$SP/outbox/fms/$QX2.xml" ]
ok $? "and its packets leave the outbox"
unlike "$OUT" "archived batch $P1 " "one live code still holds the print batch"
like "$(held)" "print_batches=1 export_batches=0$" "the log counts it"

# a rerun revokes the last live code: the batch is archived; none of the codes
# in the archive can be redeemed
eb rerun "$P1" --force
is "$RC" 0 "rerun of the print batch reissues its letters" || diag "$ERR"
P2=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
is "$(live_codes "$P1")" 0 "no code of the first batch is live now"
eb archive
is "$RC" 0 "archive runs" || diag "$ERR"
like "$OUT" "archived batch $P1 \(print-letters, " "the print batch is archived"
[ ! -e "$SP/print/$P1" ]
ok $? "its print folder is gone"
unlike "$(held)" "." "nothing is held back (the reissue is too recent to be a candidate)"
is "$(redeem_archived "$P1")" 0 "no code printed in the archive confirms an account"

# the reissue, past older_than: held while live; one code blocked, one
# expired by time alone (its row still says live): archived
age "$P2"
is "$(live_codes "$P2")" 2 "the reissue has two live codes"
eb archive
unlike "$OUT" "archived batch $P2 " "the reissue is held while its codes are live"
sql "UPDATE activation_codes k SET status = 'blocked' FROM letters l
     WHERE l.id = k.letter_id AND l.batch_id = $P2 AND k.account_id = $A2" >/dev/null
sql "UPDATE activation_codes k SET expires_at = now() - interval '1 second' FROM letters l
     WHERE l.id = k.letter_id AND l.batch_id = $P2 AND k.status = 'live'" >/dev/null
eb archive
is "$RC" 0 "archive runs" || diag "$ERR"
like "$OUT" "archived batch $P2 " "blocked and expired codes no longer hold it"
is "$(redeem_archived "$P2")" 0 "none of its codes confirms an account"
eb audit verify
is "$RC" 0 "the chain verifies" || diag "$OUT"
is "$(printf '%s\n' "$OUT" | grep -c '^OK ')" 4 "four archives"
done_testing
