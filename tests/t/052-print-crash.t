#!/usr/bin/env bash
# print-letters under kill -9 at every step, then the next run: every
# selected account ends with exactly one live code and one live letter,
# tracking numbers burned by a crashed run are never printed again.
# Reissue with --account: old code and letter revoked, the new code works.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/letters.sh"

invariants() { # invariants WHAT
	is "$(sql "SELECT count(*) FROM accounts a WHERE level = 'standard' AND confirm_method = 'mail'
		AND (SELECT count(*) FROM activation_codes k WHERE k.account_id = a.id AND k.status = 'live') <> 1")" 0 \
		"$1: every account has exactly one live code"
	is "$(sql "SELECT count(*) FROM accounts a WHERE level = 'standard' AND confirm_method = 'mail'
		AND (SELECT count(*) FROM letters l WHERE l.account_id = a.id AND l.status <> 'revoked') <> 1")" 0 \
		"$1: and exactly one live letter"
	is "$(sql "SELECT count(*) FROM activation_codes k JOIN letters l ON l.id = k.letter_id
		WHERE k.status = 'live' AND l.status = 'revoked'")" 0 "$1: live codes belong to live letters"
	is "$(sql "SELECT count(*) FROM letters l JOIN tracking_numbers t USING (barcode)
		WHERE t.batch_id <> l.batch_id")" 0 "$1: no tracking number burned by another run is printed"
}

# one run killed at each step in turn (each later run takes over the same
# accounts), then a run that completes
make_many 3
crashed=""
for point in print.after_claim print.after_burn print.mid_pdf print.after_pdf print.after_files \
	print.before_commit; do
	ESIA_FAULT=$point:kill "$EB" print-letters >"$T/out" 2>"$T/err"
	is "$?" 137 "$point: killed"
	crashed="$crashed${crashed:+,}$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")"
	is "$(sql "SELECT count(*) FROM activation_codes")" 0 "$point: no code recorded by the crash"
	b=${crashed##*,}
	if [ -e "$T/spool/print/$b/letters.pdf" ]; then
		ok $([ ! -e "$T/spool/print/$b/manifest.json" ]; echo $?) \
			"$point: files written, codes not recorded: no manifest.json"
	fi
done
# each run removes the folders of earlier dead runs; the last one's remains
is "$(ls "$T/spool/print")" "${crashed##*,}" "the last crash left its print folder (codes never recorded)"
eb print-letters
is "$RC" 0 "the next run succeeds"
is "$(ls "$T/spool/print")" "$(sql "SELECT max(id) FROM batches")" "and removes the crashed runs' print folders"
is "$(sql "SELECT count(*) FROM batches WHERE id IN ($crashed) AND status = 'abandoned'")" 6 \
	"the crashed batches are marked abandoned"
is "$(sql "SELECT count(*) FROM letters")" 3 "three letters"
invariants "after crashes"
is "$(sql "SELECT count(*) FROM tracking_numbers WHERE barcode NOT IN (SELECT barcode FROM letters)")" 15 \
	"numbers burned by the runs killed after burning stay burned and unused"

# killed after the commit: the work is done once
make_many 2
ESIA_FAULT=print.after_commit:kill "$EB" print-letters >"$T/out" 2>"$T/err"
is "$?" 137 "after_commit: killed"
b=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
ok $([ -e "$T/spool/print/$b/manifest.json" ]; echo $?) "after_commit: manifest.json is there"
eb print-letters
is "$RC" 0 "the next run exits 0"
like "$OUT" "nothing to print" "and finds nothing to do"
invariants "after_commit"

# killed between the commit and manifest.json: the next run writes it
make_many 2
ESIA_FAULT=print.before_manifest:kill "$EB" print-letters >"$T/out" 2>"$T/err"
is "$?" 137 "before_manifest: killed"
b=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
is "$(sql "SELECT count(*) FROM letters WHERE batch_id = $b")" 2 "before_manifest: the letters are recorded"
ok $([ ! -e "$T/spool/print/$b/manifest.json" ]; echo $?) "before_manifest: no manifest.json yet"
eb print-letters
is "$RC" 0 "the next run exits 0"
like "$OUT" "nothing to print" "and prints nothing again"
like "$ERR" "print.manifest_completed" "it completes the folder"
is "$(sed -n 's/.*"letters": \([0-9]*\).*/\1/p' "$T/spool/print/$b/manifest.json")" 2 \
	"with a manifest counting its two letters"
(cd "$T/spool/print/$b" && sed -n 's/.*"name": "\([^"]*\)".*"sha256": "\([0-9a-f]*\)".*/\2  \1/p' manifest.json |
	sha256sum -c --quiet) >/dev/null 2>&1
is "$?" 0 "whose hashes match the files"
is "$(sql "SELECT count(*) FROM letters WHERE batch_id = $b")" 2 "the letters are recorded once"
invariants "before_manifest"

# reissue one account: old code and letter revoked, new letter works
acct=$(sql "SELECT min(account_id) FROM letters WHERE status = 'printed'")
old_b=$(sql "SELECT batch_id FROM letters WHERE account_id = $acct AND status = 'printed'")
old_code=$(read_codes "$T/spool/print/$old_b" | awk -v a="$acct" '$1 == a {print $2}')
is "${#old_code}" 16 "old code read from the old batch"
eb print-letters --account "$acct"
is "$RC" 0 "--account reissues"
new_b=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
is "$(sql "SELECT count(*) FROM letters WHERE batch_id = $new_b")" 1 "one new letter"
is "$(sql "SELECT status FROM letters WHERE account_id = $acct AND batch_id = $old_b")" revoked "old letter revoked"
is "$(sql "SELECT count(*) FROM activation_codes WHERE account_id = $acct AND status = 'revoked'")" 1 "old code revoked"
invariants "reissue"
new_code=$(read_codes "$T/spool/print/$new_b" | awk -v a="$acct" '$1 == a {print $2}')
isnt "$new_code" "$old_code" "a fresh code"
eb redeem "$acct" "$old_code"
is "$OUT" wrong "the old code no longer works"
eb redeem "$acct" "$new_code"
is "$OUT" confirmed "the new code works"

# rerun of a print batch (as `esia-batch rerun` calls it): its accounts get
# new codes and letters in a new batch, the old ones are revoked
PR=$(dirname "$EB")/tools/print-rerun
[ -x "$PR" ] || PR=$TOP/build/asan/tools/print-rerun
src=$(sql "SELECT batch_id FROM letters WHERE status = 'printed' GROUP BY 1 HAVING count(*) >= 2 ORDER BY 1 LIMIT 1")
n_src=$(sql "SELECT count(*) FROM letters l JOIN accounts a ON a.id = l.account_id
	WHERE l.batch_id = $src AND a.level = 'standard'")
"$PR" "$src" >"$T/out" 2>"$T/err"
is "$?" 0 "rerun of batch $src"
rb=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
is "$(sql "SELECT rerun_of FROM batches WHERE id = $rb")" "$src" "the new batch records rerun_of"
is "$(sql "SELECT count(*) FROM letters WHERE batch_id = $rb")" "$n_src" "a new letter for each of its accounts"
is "$(sql "SELECT count(*) FROM letters WHERE batch_id = $src AND status <> 'revoked'")" 0 "the old letters are revoked"
is "$(sql "SELECT count(*) FROM letters WHERE batch_id = $rb AND barcode IN
	(SELECT barcode FROM letters WHERE batch_id = $src)")" 0 "with new tracking numbers"
invariants "rerun"

# blocked and expired codes: no automatic new letter; --account gives one
b1=$(sql "SELECT account_id FROM activation_codes WHERE status = 'live' ORDER BY account_id LIMIT 1")
e1=$(sql "SELECT account_id FROM activation_codes WHERE status = 'live' ORDER BY account_id DESC LIMIT 1")
sql "UPDATE activation_codes SET status = 'blocked' WHERE account_id = $b1 AND status = 'live';
	UPDATE activation_codes SET expires_at = now() - interval '1 day' WHERE account_id = $e1 AND status = 'live'" >/dev/null
eb print-letters
like "$OUT" "nothing to print" "blocked and expired codes get no automatic letter"
eb print-letters --account "$e1"
is "$RC" 0 "--account after expiry"
like "$(sql "SELECT string_agg(status, ',' ORDER BY id) FROM activation_codes WHERE account_id = $e1")" "expired,live$" \
	"the old code is marked expired, a new one is live"
eb print-letters --account "$b1"
like "$(sql "SELECT string_agg(status, ',' ORDER BY id) FROM activation_codes WHERE account_id = $b1")" "blocked,live$" \
	"a blocked code stays blocked, a new one is live"

eb print-letters --account 999999
is "$RC" 65 "--account of a missing account: exit 65"
like "$ERR" "no such account" "and says why"
sql "UPDATE accounts SET postal_index = NULL WHERE id = (SELECT max(id) FROM accounts)" >/dev/null
eb print-letters --account "$(sql "SELECT max(id) FROM accounts")"
is "$RC" 65 "--account with a broken address: exit 65"
like "$ERR" "postal index missing" "and names the problem"
done_testing
