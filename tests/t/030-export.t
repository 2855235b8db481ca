#!/usr/bin/env bash
# export-checks: every packet is signed (xmlsec1 verifies it against the
# project CA) and valid (xmllint --schema); records and CheckIds match the
# database; max_records is respected; locally invalid data is never sent,
# fails with a reason and enqueues the citizen's notice; a second run has
# nothing to do.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/export.sh"

eb export-checks --help
is "$RC" 0 "--help exits 0"
like "$OUT" "usage: esia-batch export-checks" "and prints the usage"
like "$OUT" "Exit: 0" "and the exit codes"
eb export-checks --agency nope
is "$RC" 2 "an unknown agency is a usage error"
eb export-checks --limit 0
is "$RC" 2 "--limit 0 is a usage error"
eb export-checks --bogus
is "$RC" 2 "an unknown option is a usage error"

eb export-checks
is "$RC" 0 "an empty database: exit 0 (no signing key needed)"
like "$OUT" "pfr: nothing to do" "and says there is nothing to do"

export_setup 60 "[pfr]
max_records = 7
[fms]
recipient = FMS-TEST"

cp "$ESIA_BATCH_CONFIG" "$T/good.conf"
sed -i '/^key = /d' "$ESIA_BATCH_CONFIG"
eb export-checks
is "$RC" 1 "work but no signing key: exit 1"
like "$ERR" "no signing key: set \[signer\] key" "naming the missing key"
is "$(sql "SELECT count(*) FROM batches")" 0 "without starting a batch"
cp "$T/good.conf" "$ESIA_BATCH_CONFIG"

eb export-checks
is "$RC" 65 "export exits 65: some checks were refused locally, the rest sent"
like "$OUT" "export-checks pfr: [0-9]+ packets" "it reports PFR"
like "$OUT" "export-checks fms: [0-9]+ packets" "and FMS"
is "$(sql "SELECT string_agg(scope || ' ' || status, ',' ORDER BY scope) FROM batches WHERE job = 'export-checks'")" \
	"fms succeeded,pfr succeeded" "each agency ran as its own batch"
is "$(sql "SELECT count(DISTINCT pid) FROM batches WHERE job = 'export-checks'")" 2 "two processes, side by side"

bad=0 schema=0 count=0 idsbad=0 listbad=0 shabad=0 modebad=0 over=0 files=0
for ag in pfr fms; do
	for f in "$OUTBOX/$ag"/*.xml; do
		files=$((files + 1))
		xmlsec1 --verify --trusted-pem "$PKI/esia-ca.pem" "$f" >/dev/null 2>&1 || bad=$((bad + 1))
		xmllint --noout --schema "$TOP/formats/$ag-request.xsd" "$f" 2>/dev/null || schema=$((schema + 1))
		id=$(basename "$f" .xml)
		n=$(packet_ids "$f" | wc -l)
		attr=$(xmllint --xpath 'string(/*/@RecordCount)' "$f")
		[ "$n" = "$attr" ] && [ "$n" = "$(sql "SELECT records FROM packets WHERE id = '$id'")" ] || count=$((count + 1))
		[ "$ag" = pfr ] && [ "$n" -gt 7 ] && over=$((over + 1))
		[ "$(packet_ids "$f" | sort -n)" = "$(sql "SELECT id FROM checks WHERE packet_id = '$id' ORDER BY id")" ] || idsbad=$((idsbad + 1))
		[ "$(packet_ids "$f")" = "$(sql "SELECT unnest(check_ids) FROM packets WHERE id = '$id'")" ] || listbad=$((listbad + 1))
		[ "$(sha256sum "$f" | cut -c1-64)" = "$(sql "SELECT sha256 FROM packets WHERE id = '$id'")" ] || shabad=$((shabad + 1))
		[ "$(stat -c %a "$f")" = 600 ] || modebad=$((modebad + 1))
	done
done
is "$files" "$(sql "SELECT count(*) FROM packets")" "one file per packets row"
is "$bad" 0 "every packet verifies with xmlsec1 against esia-ca.pem"
is "$schema" 0 "every packet validates against its XSD"
is "$count" 0 "RecordCount, the records in the file and packets.records agree"
is "$over" 0 "no PFR packet has more than max_records = 7"
is "$idsbad" 0 "the CheckIds in each file are exactly the checks the database puts in it"
is "$listbad" 0 "packets.check_ids lists the file's CheckIds in file order"
sql "INSERT INTO packets (id, direction, agency, batch_id, file_name, sha256, records, bytes, status)
     SELECT gen_random_uuid(), 'request', 'pfr', min(id), 'x.xml', repeat('0', 64), 1, 1, 'written' FROM batches" >/dev/null 2>&1
isnt "$?" 0 "a request packet without its check list is refused (it would look answered at once)"
is "$shabad" 0 "packets.sha256 is the file's SHA-256"
is "$modebad" 0 "packet files are 0600"
is "$(sql "SELECT count(*) FROM checks WHERE state = 'pending'")" 0 "no check left pending"
is "$(all_packet_ids pfr | sort | uniq -d | wc -l)" 0 "no check in two PFR packets"
is "$(sql "SELECT count(*) FROM checks WHERE state = 'sent' AND (attempts <> 1 OR sent_at IS NULL)")" 0 "sent checks have attempts 1 and sent_at"
f=$(ls "$OUTBOX"/fms/*.xml | head -1)
is "$(xmllint --xpath 'string(/*/@Recipient)' "$f")" FMS-TEST "[fms] recipient goes into the packet"
is "$(xmllint --xpath 'string(/*/@Sender)' "$f")" ESIA "the sender is ESIA"

# locally invalid data: the fixture fates say which
bad_pfr=$(grep -cE ',(bad_snils|mixed_name)$' "$T/reg/fates.csv")
bad_fms=$(grep -cE ',mixed_name$' "$T/reg/fates.csv")
[ "$bad_pfr" -gt 0 ] || diag "no bad fixture in 60 citizens?"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state = 'failed' AND result = 'local_invalid'")" "$bad_pfr" "every bad SNILS / mixed-script name fails the PFR check locally"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'fms' AND state = 'failed' AND result = 'local_invalid'")" "$bad_fms" "mixed-script names fail the FMS check locally"
sent_bad=0
all_packet_ids pfr >"$T/pfr.ids"
for id in $(grep -E ',(bad_snils|mixed_name)$' "$T/reg/fates.csv" | cut -d, -f1); do
	c=$(sql "SELECT id FROM checks WHERE account_id = $id AND agency = 'pfr'")
	grep -qx "$c" "$T/pfr.ids" && sent_bad=$((sent_bad + 1))
done
is "$sent_bad" 0 "no refused check appears in any packet"
like "$(sql "SELECT DISTINCT reason FROM checks WHERE result = 'local_invalid' ORDER BY 1")" "СНИЛС: контрольное число не сходится" "the reason names the field and what to fix, in Russian"
is "$(sql "SELECT count(*) FROM checks c JOIN accounts a ON a.id = c.account_id WHERE c.result = 'local_invalid' AND (a.data_status <> 'rejected' OR a.data_reject_reason IS NULL)")" 0 "their accounts are rejected with a reason"
is "$(sql "SELECT count(*) FROM checks c WHERE c.result = 'local_invalid' AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.event = 'check_failed' AND n.event_key = 'check_failed:' || c.id AND n.payload->>'reason' = c.reason)")" 0 "each has a check_failed notice with the reason"
is "$(sql "SELECT count(*) FROM notifications WHERE batch_id IS NULL")" 0 "notices carry the batch"
# packet ids are UUIDs, whose hex groups may be all digits: take them out first
unlike "$(sed -E 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/UUID/g' "$T/err")" "[0-9]{11}|[0-9]{3}-[0-9]{3}-[0-9]{3}" "no SNILS in the log"
is "$(sql "SELECT string_agg(status || ':' || records || ':' || rejected, ',' ORDER BY scope DESC) FROM batches")" \
	"succeeded:$(sql "SELECT count(*) FROM checks WHERE agency='pfr' AND state='sent'"):$bad_pfr,succeeded:$(sql "SELECT count(*) FROM checks WHERE agency='fms' AND state='sent'"):$bad_fms" \
	"one batch per agency with its counts"
like "$(sql "SELECT params FROM batches WHERE scope = 'pfr'")" '"--agency", "pfr"' "each batch records a replayable command for its agency"

eb export-checks
is "$RC" 0 "a second run exits 0"
like "$OUT" "pfr: nothing to do" "and says there is nothing to do"
is "$(sql "SELECT count(*) FROM batches")" 2 "without starting a batch"

# a citizen edits their data before the check goes out: the newer data and
# version are sent; a check made stale by a newer one is superseded
sql "UPDATE accounts SET first_name = 'Пётр', data_version = 2 WHERE id = 1" >/dev/null
sql "INSERT INTO checks (account_id, agency, data_version) VALUES (1, 'fms', 2)" >/dev/null
sql "UPDATE accounts SET data_version = 3 WHERE id = 2" >/dev/null
sql "INSERT INTO checks (account_id, agency, data_version) VALUES (2, 'pfr', 3)" >/dev/null
sql "UPDATE checks SET state = 'pending' WHERE account_id = 2 AND agency = 'pfr' AND data_version = 1" >/dev/null
eb export-checks --agency fms
is "$RC" 0 "a run for one agency"
like "$OUT" "^export-checks fms: 1 packets, 1 checks sent" "sends the one new check"
unlike "$OUT" "pfr" "and leaves PFR alone"
is "$(sql "SELECT data_version FROM checks WHERE account_id = 1 AND agency = 'fms' AND state = 'sent' AND attempts = 1 ORDER BY id DESC LIMIT 1")" 2 "the check carries data version 2"
f=$(ls -t "$OUTBOX"/fms/*.xml | head -1)
like "$(cat "$f")" "<FirstName>Пётр</FirstName>" "with the new name"
eb export-checks --agency pfr
is "$(sql "SELECT state FROM checks WHERE account_id = 2 AND agency = 'pfr' AND data_version = 1")" superseded "a stale check with a newer sibling is superseded, not sent"
is "$(sql "SELECT state FROM checks WHERE account_id = 2 AND agency = 'pfr' AND data_version = 3")" sent "the newer one is sent"
is "$(sql "SELECT count(*) FROM check_queue")" 0 "the work queue is empty"

# the queue is kept by triggers, whoever writes checks: a new pending check
# and one put back to pending join it; one settled by someone else while
# queued is dropped by the next run, not sent
sql "UPDATE accounts SET data_version = 2 WHERE id IN (3, 5)" >/dev/null
sql "INSERT INTO checks (account_id, agency, data_version) VALUES (3, 'pfr', 2)" >/dev/null
sql "UPDATE checks SET state = 'pending' WHERE account_id = 4 AND agency = 'pfr' AND data_version = 1" >/dev/null
sql "INSERT INTO checks (account_id, agency, data_version) VALUES (5, 'pfr', 2)" >/dev/null
sql "UPDATE checks SET state = 'superseded' WHERE account_id = 5 AND agency = 'pfr' AND data_version = 2" >/dev/null
is "$(sql "SELECT count(*) FROM check_queue WHERE agency = 'pfr'")" 3 "three checks were queued"
eb export-checks --agency pfr
like "$OUT" "^export-checks pfr: 1 packets, 2 checks sent" "two go out"
f=$(ls -t "$OUTBOX"/pfr/*.xml | head -1)
is "$(packet_ids "$f" | sort -n | tr '\n' ' ')" "$(sql "SELECT string_agg(id::text, ' ' ORDER BY id) || ' ' FROM checks WHERE (account_id, data_version) IN ((3, 2), (4, 1)) AND agency = 'pfr' AND state = 'sent'")" "the new one and the one put back"
is "$(sql "SELECT state FROM checks WHERE account_id = 5 AND agency = 'pfr' AND data_version = 2")" superseded "the settled one is left as it was"
is "$(sql "SELECT count(*) FROM check_queue")" 0 "and the queue is empty again"
done_testing
