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
done_testing
