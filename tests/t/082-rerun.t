#!/usr/bin/env bash
# esia-batch rerun for the job kinds not covered by their own tests (import:
# 043, notify: 063): an export killed with -9 (abandoned) and a print batch
# (reissue). Exactly once in effect; the new batch records rerun_of.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/export.sh"
export_setup 60 "[pfr]
max_records = 10"

# export killed after writing its second packet, before committing it
ESIA_FAULT=export.after_write:kill@2 "$EB" export-checks --agency pfr >/dev/null 2>&1
dead=$(sql "SELECT id FROM batches WHERE job = 'export-checks' ORDER BY id DESC LIMIT 1")
is "$(sql "SELECT status FROM batches WHERE id = $dead")" running "the killed export still looks running"
eb rerun "$dead"
ok "$([ "$RC" = 0 ] || [ "$RC" = 65 ]; echo $?)" "rerun of the killed export runs (exit $RC)"
is "$(sql "SELECT status FROM batches WHERE id = $dead")" abandoned "the dead batch is marked abandoned first"
new=$(sql "SELECT id FROM batches WHERE rerun_of = $dead")
isnt "$new" "" "the new batch records rerun_of"
is "$(sql "SELECT status FROM batches WHERE id = $new")" succeeded "the rerun succeeded"
sent=$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state = 'sent'")
is "$(all_packet_ids pfr | sort | uniq -d | wc -l)" 0 "no check in two packets"
is "$(all_packet_ids pfr | wc -l)" "$sent" "every sent check is in exactly one packet file ($sent)"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state = 'pending'")" 0 "nothing left pending"
eb rerun "$dead"
is "$RC" 1 "a second rerun of the same batch is refused"
like "$ERR" "already rerun successfully as batch $new" "and names the rerun"

# killed again (FMS), and the next cron run exports everything: the rerun has
# nothing left to do, yet it is the operator's action and is recorded, so the
# abandoned batch counts as rerun
faulty export.after_write:kill export-checks --agency fms
dead2=$(sql "SELECT max(id) FROM batches WHERE job = 'export-checks'")
eb export-checks --agency fms
like "$RC $(sql "SELECT status FROM batches WHERE id = $dead2")" "^(0|65) abandoned$" \
	"the next run exports what the killed one left (exit $RC: some checks refused locally)"
eb rerun "$dead2"
is "$RC/$OUT" "0/export-checks fms: nothing to do" "its rerun has nothing left to do"
is "$(sql "SELECT status || ' ' || records FROM batches WHERE rerun_of = $dead2")" "succeeded 0" \
	"and is recorded as a batch that did nothing"
eb status
unlike "$OUT" "abandoned batches" "status no longer lists the abandoned export"
eb rerun "$dead2"
like "$RC $ERR" "^1 .*already rerun successfully" "a second rerun is refused"
eb rerun "$dead2" --force
is "$RC $(sql "SELECT count(*) FROM batches WHERE rerun_of = $dead2 AND status = 'succeeded'")" "0 2" \
	"with --force it is recorded again"
# the same for an archive run that failed, when nothing is left to archive
ab=$(sql "INSERT INTO batches (job, status, finished_at, params) VALUES ('archive', 'failed', now(),
	'{\"argv\": [\"archive\"]}') RETURNING id")
eb rerun "$ab"
like "$RC $OUT" "^0 nothing to archive" "the rerun of a failed archive batch has nothing to archive"
is "$(sql "SELECT status || ' ' || records FROM batches WHERE rerun_of = $ab")" "succeeded 0" "and is recorded"
eb status
unlike "$OUT" "failed batches" "status lists no failed batch"

# print: a batch that recorded letters (here partial: one address cannot be
# printed) is rerun only with --force, which reissues its letters
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/hmac.key"
chmod 0600 "$T/hmac.key"
CONFIG_EXTRA="$CONFIG_EXTRA
[letters]
hmac_key = $T/hmac.key
tracking_ranges = 10100025:1-99999"
write_config
sql "UPDATE accounts SET level = 'standard', data_status = 'verified'
     WHERE id IN (SELECT id FROM accounts WHERE confirm_method = 'mail' AND postal_index IS NOT NULL
                   AND house IS NOT NULL ORDER BY id LIMIT 4)" >/dev/null
sql "UPDATE accounts SET level = 'standard', data_status = 'verified', postal_index = NULL
     WHERE id = (SELECT min(id) FROM accounts WHERE confirm_method = 'mail' AND level = 'simplified')" >/dev/null
eb print-letters
is "$RC" 65 "print-letters prints, one address refused: partial"
pb=$(sql "SELECT id FROM batches WHERE job = 'print-letters' ORDER BY id DESC LIMIT 1")
is "$(sql "SELECT count(*) FROM letters WHERE batch_id = $pb")" 4 "four letters"
old_codes=$(sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM activation_codes WHERE status = 'live'")
is "$(sql "SELECT status FROM batches WHERE id = $pb")" partial "the batch is partial"
eb rerun "$pb"
is "$RC" 1 "rerun of a print batch that recorded letters needs --force"
like "$ERR" "recorded 4 letter.*revokes their codes.*not posted.*--force" "saying what a rerun would do"
is "$(sql "SELECT count(*) FROM activation_codes WHERE status = 'live'")" 4 "no code revoked"
eb rerun "$pb" --force
is "$RC" 0 "rerun --force reissues"
rb=$(sql "SELECT id FROM batches WHERE rerun_of = $pb")
is "$(sql "SELECT count(*) FROM letters WHERE batch_id = $rb")" 4 "four new letters in the rerun batch"
is "$(sql "SELECT count(*) FROM letters WHERE batch_id = $pb AND status = 'revoked'")" 4 "the old letters are revoked"
is "$(sql "SELECT count(*) FROM activation_codes WHERE id IN ($old_codes) AND status = 'revoked'")" 4 "the old codes are revoked"
is "$(sql "SELECT count(*) FROM activation_codes WHERE status = 'live'")" 4 "one live code per account"
is "$(sql "SELECT count(DISTINCT barcode) FROM letters")" 8 "new tracking numbers, none reused"

# a reissue killed before recording: its rerun is that reissue (of the batch
# along rerun_of that holds the letters), not a plain run finding nothing
old_codes=$(sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM activation_codes WHERE status = 'live'")
faulty print.after_burn:kill rerun "$rb" --force
is "$RC" 137 "a reissue killed before recording its letters"
kb=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
is "$(sql "SELECT rerun_of || '/' || (SELECT count(*) FROM letters WHERE batch_id = $kb) FROM batches
	WHERE id = $kb")" "$rb/0" "it was a rerun of batch $rb and recorded nothing"
eb rerun "$kb"
is "$RC" 0 "the rerun of the killed reissue runs"
[ "$RC" = 0 ] || diag "$OUT $ERR"
unlike "$OUT" "nothing to print" "and does not find nothing to print"
nb=$(sql "SELECT id FROM batches WHERE rerun_of = $kb")
is "$(sql "SELECT count(*) FROM letters WHERE batch_id = '$nb'")" 4 "four new letters: batch $rb's accounts reissued"
is "$(sql "SELECT count(*) FROM letters WHERE batch_id = $rb AND status = 'revoked'")" 4 "batch $rb's letters are revoked"
is "$(sql "SELECT count(*) FROM activation_codes WHERE id IN ($old_codes) AND status = 'revoked'")" 4 \
	"and their codes"
is "$(sql "SELECT count(*) FROM activation_codes WHERE status = 'live'")" 4 "one live code per account"

# ... less the accounts printed for since the killed reissue: their newer
# letters (a reissue by hand, --account) are not voided
faulty print.after_burn:kill rerun "$nb" --force
is "$RC" 137 "another reissue killed before recording"
kb2=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
eb rerun "$nb" --force
is "$RC" 0 "batch $nb reissued again by hand"
r3=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
live=$(sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM activation_codes WHERE status = 'live'")
eb rerun "$kb2"
like "$RC $ERR" "^1 .*already rerun successfully as batch $r3" \
	"the killed reissue is settled by the later reissue of the same batch"
eb rerun "$kb2" --force
is "$RC/$OUT" "0/nothing to print" "forced, the killed reissue's rerun then has nothing left to do"
is "$(sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM activation_codes WHERE status = 'live'")" "$live" \
	"and revokes no code"
faulty print.after_burn:kill rerun "$r3" --force
is "$RC" 137 "a third reissue killed before recording"
kb3=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
acct=$(sql "SELECT min(account_id) FROM letters WHERE batch_id = $r3")
eb print-letters --account "$acct"
is "$RC" 0 "one of its accounts reissued by hand meanwhile"
live1=$(sql "SELECT id FROM activation_codes WHERE status = 'live' AND account_id = $acct")
eb rerun "$kb3"
is "$RC" 0 "the killed reissue's rerun"
is "$(sql "SELECT count(*) FROM letters WHERE batch_id = (SELECT id FROM batches WHERE rerun_of = $kb3)")" 3 \
	"reissues the other three accounts of batch $r3"
is "$(sql "SELECT id FROM activation_codes WHERE status = 'live' AND account_id = $acct")" "$live1" \
	"and leaves the fourth its newer code"
is "$(sql "SELECT count(*) FROM activation_codes WHERE status = 'live'")" 4 "one live code per account"

# a plain run killed before recording: its rerun is a plain run (its accounts
# still have no live code), which revokes nothing
sql "UPDATE accounts SET level = 'standard', data_status = 'verified'
     WHERE id IN (SELECT id FROM accounts WHERE confirm_method = 'mail' AND level = 'simplified'
                   AND postal_index IS NOT NULL AND house IS NOT NULL ORDER BY id LIMIT 2)" >/dev/null
live=$(sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM activation_codes WHERE status = 'live'")
faulty print.after_burn:kill print-letters
is "$RC" 137 "a plain run killed before recording"
pk=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
eb rerun "$pk"
is "$RC" 0 "its rerun runs"
is "$(sql "SELECT count(*) FROM letters WHERE batch_id = (SELECT id FROM batches WHERE rerun_of = $pk)")" 2 \
	"and prints the two new accounts"
is "$(sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM activation_codes
	WHERE status = 'live' AND id IN ($live)")" "$live" "revoking no other code"
done_testing
