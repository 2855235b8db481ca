#!/usr/bin/env bash
# `esia-batch rerun ID` of an import batch that refused packets: the operator
# fixed the cause (here a wrong trust anchor), the packets that batch refused
# move back from rejected/ to the inbox and are imported; others stay put.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/sim/testlib.sh"
# the FMS anchor is misconfigured: the PFR CA
sed -i "s|fms-ca.pem|pfr-ca.pem|" "$T/esia-batch.conf"

load 20 9
requests pfr 10 >/dev/null
requests fms 10 >/dev/null
answer pfr >/dev/null
answer fms >/dev/null
printf 'garbage' >"$SP/inbox/pfr/zz-garbage.xml"
eb import-responses
is "$RC" 65 "genuine FMS answers refused under the wrong anchor: exit 65"
like "$OUT" "imported 2 packets .* 3 rejected" "PFR applied, FMS and the garbage refused"
bad=$(sql "SELECT id FROM batches WHERE job = 'import-responses'")
is "$(sql "SELECT status FROM batches WHERE id = $bad")" partial "the batch is partial"
is "$(ls "$SP/rejected/fms" | grep -c '\.reason$')" 2 "two FMS packets in rejected/ with reasons"
like "$(head -1 "$SP/rejected/fms/"*.reason | grep -m1 signature)" "untrusted signer" "refused as an untrusted signer"

# the operator fixes the configuration and reruns the batch
sed -i "s|^trust_anchor = \(.*\)/pfr-ca.pem$|&|; /^\[fms\]/,/^\[/ s|pfr-ca.pem|fms-ca.pem|" "$T/esia-batch.conf"
grep -q "fms-ca.pem" "$T/esia-batch.conf" || bail "could not fix the config"
eb rerun "$bad"
is "$RC" 65 "the rerun applies the FMS packets; the garbage is refused again"
like "$OUT" "imported 2 packets .* 1 rejected" "two applied, one rejected"
like "$ERR" "import.retry.*fms" "the refused packets were taken back"
is "$(sql "SELECT rerun_of FROM batches ORDER BY id DESC LIMIT 1")" "$bad" "the new batch records rerun_of"
is "$(ls "$SP/rejected/fms" | wc -l)" 0 "rejected/fms is empty"
is "$(ls "$SP/processed/fms" | wc -l)" 2 "the FMS packets are processed"
is "$(ls "$SP/rejected/pfr")" "zz-garbage.xml
zz-garbage.xml.reason" "the garbage is back in rejected/ with a fresh reason"
is "$(sql "SELECT count(*) FROM checks WHERE state = 'sent'")" 0 "every check answered"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'response'")" 4 "four answers recorded"

# killed after moving a refused packet into rejected/ but before the batch row
# counted it: the rerun finds it by its .reason and takes it back as well
printf 'garbage' >"$SP/inbox/fms/zz-lost.xml"
faulty import.after_quarantine:kill import-responses --agency fms
is "$RC" 137 "killed between the quarantine and the batch row"
lost=$(sql "SELECT max(id) FROM batches WHERE job = 'import-responses'")
is "$(sql "SELECT rejected || ' ' || coalesce(params->'rejected', '[]') FROM batches WHERE id = $lost")" "0 []" \
	"the batch row does not list the refused packet"
like "$(cat "$SP/rejected/fms/zz-lost.xml.reason")" "batch: $lost" "its .reason names the batch"
eb rerun "$lost"
is "$RC" 65 "the rerun refuses it again"
like "$ERR" "import.retry file=zz-lost.xml agency=fms" "the unlisted packet was taken back"
last=$(sql "SELECT max(id) FROM batches WHERE job = 'import-responses'")
is "$(sql "SELECT rejected || ' ' || (params->'rejected'->0->>'file') FROM batches WHERE id = $last")" \
	"1 zz-lost.xml" "the new batch counts and lists it"
like "$(cat "$SP/rejected/fms/zz-lost.xml.reason")" "batch: $last" "its .reason names the new batch"
# A refused packet is never kept under a reason file's name: x.xml.reason
# goes to rejected/ as another name, so the .reason of a later x.xml cannot
# land on it; both packets and both reasons are kept, and each rerun takes
# back its own packet only.
last_import() { sql "SELECT max(id) FROM batches WHERE job = 'import-responses'"; }
listed() { sql "SELECT params->'rejected'->0->>'file' FROM batches WHERE id = $1"; }
printf '<Evidence>first</Evidence>' >"$SP/inbox/pfr/x.xml.reason"
eb import-responses --agency pfr
b1=$(last_import)
f1=$(listed "$b1")
unlike "$f1" '\.reason$' "a refused x.xml.reason is kept under a name that is not a reason file's"
printf '<Nope>' >"$SP/inbox/pfr/x.xml"
eb import-responses --agency pfr
b2=$(last_import)
is "$(cat "$SP/rejected/pfr/$f1")" "<Evidence>first</Evidence>" "the reason of a later x.xml did not replace the first packet"
is "$(ls "$SP/rejected/pfr" | grep -c '^x\.xml') $(sed -n 3p "$SP/rejected/pfr/$f1.reason") $(sed -n 3p "$SP/rejected/pfr/x.xml.reason")" \
	"4 batch: $b1 batch: $b2" "both packets kept, each with its own reason"
eb rerun "$b1"
is "$(grep -o 'import.retry file=[^ ]*' <<<"$ERR") $(grep -o 'root element {}Evidence' <<<"$ERR")" \
	"import.retry file=$f1 root element {}Evidence" "rerun $b1 takes back its packet only, the first packet itself"
eb rerun "$b2"
is "$(grep -o 'import.retry file=[^ ]*' <<<"$ERR") $(cat "$SP/rejected/pfr/$f1")" "import.retry file=x.xml <Evidence>first</Evidence>" \
	"rerun $b2 takes back x.xml only; the first packet stays"

# a file already where a refused packet's .reason would go (a packet an older
# version kept as y.xml.reason) is never written over: the packet takes the
# next free name
printf 'kept by an older version' >"$SP/rejected/pfr/y.xml.reason"
printf '<Nope>' >"$SP/inbox/pfr/y.xml"
eb import-responses --agency pfr
is "$(cat "$SP/rejected/pfr/y.xml.reason") $(listed "$(last_import)")" "kept by an older version y.2.xml" \
	"a file at NAME.reason is kept; the packet becomes y.2.xml"
# A name with newlines that forges a log line and a "batch: $b1" line: it is
# refused unread and kept without them, its event is one log line, its
# .reason names only its own batch, and rerun of batch $b1 does not take it.
printf '<Nope>' >"$SP/inbox/pfr/evil"$'\n''ts=2026-01-01T00:00:00Z level=info event=import.applied file=forged.xml agency=pfr'$'\n'"batch: $b1"
eb import-responses --agency pfr
b4=$(last_import)
f4=$(listed "$b4")
is "$(grep -cE '^ts=[^ ]+ level=[^ ]+ (batch=[0-9]+ )?event=import.applied' <<<"$ERR") $(grep -vc '^ts=' <<<"$ERR")" "0 0" \
	"the name forges no log line"
like "$(grep 'event=import.rejected' <<<"$ERR")" 'file="?evil.*forged\.xml.* reason="file name holds control characters, is not UTF-8 or is over 200 bytes"$' \
	"its refusal is one line, name and reason"
is "$(printf '%s' "$f4" | tr -d '\000-\037\177')" "$f4" "it is kept and listed under a name without control characters"
is "$(grep -c '^batch: ' "$SP/rejected/pfr/$f4.reason") $(sed -n 3p "$SP/rejected/pfr/$f4.reason")" "1 batch: $b4" \
	"its .reason names only its own batch"
like "$(sed -n 2p "$SP/rejected/pfr/$f4.reason")" '^file: .*/evil\\nts=.*forged\.xml agency=pfr\\nbatch: [0-9]+$' \
	"its .reason gives the real name, escaped, on the file: line"
# a name that is no UTF-8 could not be recorded on the batch row: refused
# unread too, and kept with its bad byte as '_'
printf '<Nope>' >"$SP/inbox/pfr/latin1-"$'\xe9'".xml"
eb import-responses --agency pfr
is "$RC" 65 "a name that is no UTF-8: refused, not a failed run"
is "$(listed "$(last_import)")" "latin1-_.xml" "kept and listed as latin1-_.xml"
like "$(head -1 "$SP/rejected/pfr/latin1-_.xml.reason")" "not UTF-8" "its .reason says why"
# a name too long for the quarantine's own files (NAME.reason's temporary)
long=$(printf 'L%.0s' $(seq 240)).xml
printf '<Nope>' >"$SP/inbox/pfr/$long"
eb import-responses --agency pfr
is "$RC" 65 "a 244-byte name: refused, not a failed run"
kept=$(listed "$(last_import)")
is "${#kept}" 200 "kept under its first 200 bytes"
ok $([ -s "$SP/rejected/pfr/$kept" ] && [ -s "$SP/rejected/pfr/$kept.reason" ]; echo $?) "with its .reason"
# a rerun imports the inbox too: a refused packet whose same bytes were put
# back in the inbox meanwhile is that packet, imported (here refused) once
printf '<Nope>' >"$SP/inbox/pfr/d.xml"
eb import-responses --agency pfr
bd=$(last_import)
cp "$SP/rejected/pfr/d.xml" "$SP/inbox/pfr/d.xml"
eb rerun "$bd"
is "$RC $(grep -c 'event=import.rejected file=d.xml' <<<"$ERR")" "65 1" "the packet in rejected/ and its copy in the inbox: refused once"
is "$(ls "$SP/rejected/pfr" | grep '^d\.' | tr '\n' ' ')$(ls "$SP/inbox/pfr" | wc -l)" "d.xml d.xml.reason 0" \
	"kept once with its reason, the inbox empty"
# only line 3 of a .reason names the batch: a "batch:" line among the details is text
printf '<Nope>' >"$SP/rejected/pfr/z.xml"
printf 'what failed\nfile: z.xml\nbatch: 999999\nbatch: %s\n' "$b1" >"$SP/rejected/pfr/z.xml.reason"
eb rerun "$b1"
unlike "$ERR" 'import\.retry file="?evil' "rerun $b1 does not take the file whose name claimed that batch"
unlike "$ERR" 'import\.retry file=z\.xml' "nor one whose .reason says \"batch: $b1\" past line 3"
# a FILE named in another encoding: refused before the run starts (the batch
# records its command line as UTF-8 for rerun), nothing recorded, the file kept
odd="$SP/inbox/pfr/"$'caf\xe9.xml'
cp "$(ls "$SP/processed/pfr/"*.xml | head -1)" "$odd"
n=$(sql "SELECT count(*) FROM batches")
eb import-responses "$odd"
is "$RC" 2 "a FILE argument that is not UTF-8: exit 2"
like "$ERR" 'argument ".*caf\\xe9\.xml" is not UTF-8 text' "and says which, escaped"
is "$(sql "SELECT count(*) FROM batches")/$([ -f "$odd" ] && echo kept)" "$n/kept" "no batch recorded, the file left where it was"
rm -f "$odd"
done_testing
