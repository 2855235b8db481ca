#!/usr/bin/env bash
# archive + audit round trip: finished batches' request packets, response
# packets (processed and rejected, with reasons) and print files go into
# signed, hash-chained archives; the originals go only after the archive is
# recorded; tar, openssl cms and sha256sum (independent peers) read the
# archives back; audit list/show/verify work from the archive folder alone.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/archive-fixtures.sh"

# --- fixtures: three finished batches, one running, one too recent ---
A=$(new_batch export-checks)
RA1=$(request "$A" pfr)
RA2=$(request "$A" fms)
B=$(new_batch import-responses partial)
RB1=$(response "$B" "$RA1")
RB2=$(rejected_response "$B" "$RA1")
# a rejected file that never got a packets row: claimed by its .reason (as
# import writes it: what failed, the file, then the batch on line 3)
printf '<not xml' >"$SP/rejected/pfr/garbage.xml"
printf 'not well-formed XML\nfile: garbage.xml\nbatch: %s\n' "$B" >"$SP/rejected/pfr/garbage.xml.reason"
printf 'x' >"$SP/rejected/pfr/other.xml"
printf 'not well-formed XML\nfile: other.xml\nbatch: 999999\n' >"$SP/rejected/pfr/other.xml.reason"
C=$(new_batch print-letters)
print_files "$C"
D=$(new_batch export-checks running)
RD=$(request "$D" pfr)
E=$(new_batch export-checks succeeded "1 hour")
RE=$(request "$E" fms)
cp -a "$SP" "$T/orig"

eb archive --older-than x
is "$RC" 2 "a bad --older-than is a usage error"
eb archive --help
like "$OUT" "usage: esia-batch archive" "archive --help"

eb archive
is "$RC" 0 "archive runs" || diag "$ERR"
like "$OUT" "archived batch $A \(export-checks, 2 files\)" "batch A archived with its two packets"
like "$OUT" "archived batch $B \(import-responses, 5 files\)" "batch B: processed, rejected + reason, unrowed rejected + reason"
like "$OUT" "archived batch $C \(print-letters, 3 files\)" "batch C: the print folder"
unlike "$OUT" "batch ($D|$E) " "a running batch and one finished an hour ago are left"
YM=$(date -u -d "2 days ago" +%Y/%m)
for b in "$A" "$B" "$C"; do
	[ -f "$AR/$YM/$b.tar.xz" ]
	ok $? "archive $YM/$b.tar.xz exists"
done
is "$(stat -c %a "$AR/$YM/$A.tar.xz")" 600 "archives are 0600"
is "$(find "$AR" -name '.*' | wc -l)" 0 "no temporaries left"

# originals gone, unrelated files kept
[ ! -e "$SP/outbox/pfr/$RA1.xml" ] && [ ! -e "$SP/outbox/fms/$RA2.xml" ]
ok $? "request packets removed from the outbox"
[ ! -e "$SP/processed/pfr/answer-$RB1.xml" ] && [ ! -e "$SP/rejected/pfr/bad-$RB2.xml.reason" ] &&
	[ ! -e "$SP/rejected/pfr/garbage.xml" ]
ok $? "response, rejected and reason files removed"
[ -e "$SP/rejected/pfr/other.xml" ] && [ -e "$SP/outbox/pfr/$RD.xml" ] && [ -e "$SP/outbox/fms/$RE.xml" ]
ok $? "files of other batches stay"
[ ! -e "$SP/print/$C" ]
ok $? "the print folder is gone"

# database record: chain of sha256 of the archive files
is "$(sql "SELECT string_agg(batch_id || ':' || seq || ':' || files, ' ' ORDER BY seq) FROM archives")" \
	"$A:1:2 $B:2:5 $C:3:3" "archives recorded in batch order with positions and file counts"
is "$(sql "SELECT sha256 FROM archives WHERE batch_id = $B")" \
	"$(sha256sum "$AR/$YM/$B.tar.xz" | cut -d' ' -f1)" "recorded sha256 is the archive file's"
is "$(sql "SELECT prev_sha256 FROM archives WHERE batch_id = $B")" \
	"$(sha256sum "$AR/$YM/$A.tar.xz" | cut -d' ' -f1)" "prev_sha256 is the previous archive's"
is "$(sql "SELECT count(*) FROM archives WHERE cleaned_at IS NULL")" 0 "all marked cleaned"
is "$(sql "SELECT count(*) FROM audit_events WHERE event = 'archived'")" 3 "an audit event per archive"

# --- independent peers: tar, openssl cms, sha256sum ---
X=$T/x
mkdir -p "$X"
tar -xJf "$AR/$YM/$B.tar.xz" -C "$X"
is "$(tar -tJf "$AR/$YM/$B.tar.xz" | head -2 | tr '\n' ' ')" "MANIFEST MANIFEST.p7s " "MANIFEST and its signature come first"
openssl cms -verify -binary -inform DER -in "$X/MANIFEST.p7s" -content "$X/MANIFEST" \
	-CAfile "$P/esia-ca.pem" -purpose any >/dev/null 2>&1
is "$?" 0 "openssl cms verifies MANIFEST.p7s against the project CA"
openssl cms -verify -binary -inform DER -in "$X/MANIFEST.p7s" -content "$X/MANIFEST" \
	-CAfile "$P/foreign-ca.pem" -purpose any >/dev/null 2>&1
isnt "$?" 0 "and not against a foreign CA"
(cd "$X" && sed -n '/^$/,$p' MANIFEST | sed 1d | awk '{print $1 "  " $3}' | sha256sum -c --quiet)
is "$?" 0 "sha256sum agrees with every MANIFEST line"
like "$(cat "$X/MANIFEST")" "prev: $(sha256sum "$AR/$YM/$A.tar.xz" | cut -d' ' -f1)" "MANIFEST names the previous archive's sha256"
like "$(cat "$X/MANIFEST")" "packet: $RB1 processed/pfr/answer-$RB1.xml" "MANIFEST maps packet ids to files"
cmp -s "$X/processed/pfr/answer-$RB1.xml" "$T/orig/processed/pfr/answer-$RB1.xml" &&
	cmp -s "$X/rejected/pfr/garbage.xml.reason" "$T/orig/rejected/pfr/garbage.xml.reason"
ok $? "archived files equal the originals"
tar -xJf "$AR/$YM/$C.tar.xz" -C "$X"
cmp -s "$X/print/$C/letters.pdf" "$T/orig/print/$C/letters.pdf" && cmp -s "$X/print/$C/f103/f103.csv" "$T/orig/print/$C/f103/f103.csv"
ok $? "print files, including a subfolder, equal the originals"

# --- audit verify ---
eb audit verify
is "$RC" 0 "audit verify: all good" || diag "$OUT"
is "$(printf '%s\n' "$OUT" | grep -c '^OK ')" 3 "one OK line per archive"
like "$OUT" "OK   $YM/$A.tar.xz: position 1, batch $A \(export-checks\), 2 files, 2 packet signatures" "requests' XML signatures checked"
like "$OUT" "OK   $YM/$B.tar.xz: position 2, batch $B \(import-responses\), 5 files, 1 packet signatures" "the applied answer's signature checked, rejected ones not held to it"

# offline: no config, only the folder and a trust bundle
# offline: no config, only the folder, the project's CA and the agencies' CAs
cat "$P/pfr-ca.pem" "$P/fms-ca.pem" >"$T/agencies.pem"
: >"$T/empty.conf"
"$EB" --config "$T/empty.conf" audit verify --archive-dir "$AR" --manifest-trust "$P/esia-ca.pem" \
	--trust "$T/agencies.pem" >"$T/off" 2>&1
is "$?" 0 "audit verify with --archive-dir, --manifest-trust and --trust, no database, empty config" || diag "$(cat "$T/off")"
"$EB" --config "$T/empty.conf" audit verify --archive-dir "$AR" >"$T/off" 2>&1
is "$?" 1 "verify without any trust anchor fails"
like "$(cat "$T/off")" "no trust anchor" "and says why"
cat "$P/esia-ca.pem" "$T/agencies.pem" >"$T/trust.pem"
"$EB" --config "$T/empty.conf" audit verify --archive-dir "$AR" --trust "$T/trust.pem" >"$T/off" 2>&1
is "$?" 1 "the old one-bundle usage (--trust only) fails: --trust never anchors manifests"
like "$(cat "$T/off")" "no trust anchor for manifests: .*--manifest-trust FILE.*--trust is for the agencies' answers only" \
	"and says what to give instead"
"$EB" --config "$T/empty.conf" audit verify --archive-dir "$AR" --manifest-trust "$T/trust.pem" \
	--trust "$T/trust.pem" >"$T/off" 2>&1
is "$?" 1 "a manifest anchor that also holds an agency's CA is refused"
like "$(cat "$T/off")" "the manifest trust anchor .* holds /CN=[^,]*, which is also trusted for pfr answers" "naming the shared CA"
"$EB" --config "$T/empty.conf" audit verify --archive-dir "$AR" --manifest-trust "$P/foreign-ca.pem" \
	--trust "$T/agencies.pem" >"$T/off" 2>&1
is "$?" 65 "a foreign manifest trust anchor: nothing verifies"
"$EB" --config "$T/empty.conf" audit list --archive-dir "$T/nowhere" >"$T/off" 2>&1
is "$?" 1 "a missing archive folder is an error"
like "$(cat "$T/off")" "cannot open archive folder \"$T/nowhere\"" "naming the folder"

# --- audit list ---
eb audit list
is "$RC" 0 "audit list"
like "$OUT" "$YM/$A.tar.xz +1 +$A +export-checks" "lists archive A"
like "$OUT" "packet $RA2  fms  outbox/fms/$RA2.xml" "with its packets"
eb audit list --agency fms
like "$OUT" "$A.tar.xz" "--agency fms keeps A"
unlike "$OUT" "$B.tar.xz|$C.tar.xz" "and drops archives without FMS packets"
unlike "$OUT" "$RA1" "and PFR packets"
eb audit list --json
is "$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), d[1]["batch"], d[1]["packets"][0]["id"])')" \
	"3 $B $RB1" "--json is valid JSON with archives and packets"
eb audit list --from 2099-01-01
like "$OUT" "no archives match" "--from in the future: none"
eb audit list --to "$(date -u -d '2 days ago' +%F)" --from "$(date -u -d '2 days ago' +%F)"
is "$(printf '%s\n' "$OUT" | grep -c 'tar.xz')" 3 "--from/--to on the finishing day: all three"
eb audit list --from yesterday
is "$RC" 2 "a bad date is a usage error"

# --- audit show ---
"$EB" audit show "$RA1" >"$T/show.xml" 2>"$T/show.err"
is "$?" 0 "audit show a request packet"
cmp -s "$T/show.xml" "$T/orig/outbox/pfr/$RA1.xml"
ok $? "output is byte-equal to the original packet"
like "$(cat "$T/show.err")" "integrity: sha256 [0-9a-f]{64} matches MANIFEST" "integrity on stderr"
like "$(cat "$T/show.err")" "packet signature: valid" "signature status on stderr"
"$EB" audit show "$RB1" >"$T/show2.xml" 2>"$T/show2.err"
cmp -s "$T/show2.xml" "$T/orig/processed/pfr/answer-$RB1.xml"
ok $? "an answer packet too"
like "$(cat "$T/show2.err")" "packet signature: valid \(signer O=PFR\)" "checked against the PFR anchor"
"$EB" audit show "$RB2" >/dev/null 2>"$T/show3.err"
like "$(cat "$T/show3.err")" "rejected on import" "a rejected packet is shown as such"
"$EB" audit show rejected/pfr/garbage.xml.reason >"$T/show4" 2>/dev/null
cmp -s "$T/show4" "$T/orig/rejected/pfr/garbage.xml.reason"
ok $? "any member by its path"
eb audit show "$RA1" --format text
is "$RC" 0 "--format text"
like "$OUT" "CheckId +FamilyName +FirstName +Patronymic +Snils +Gender +BirthDate" "records as a table: header"
like "$OUT" "101 +Иванов +Иван +Иванович +11223344595 +M +1980-01-31" "records as a table: a row"
like "$OUT" "PacketId: +$RA1" "the packet header"
eb audit show 00000000-0000-0000-0000-000000000000
is "$RC" 1 "an unknown packet fails"
like "$ERR" "is in no archive" "and says so"
eb audit show "$RA1" --format pdf
is "$RC" 2 "an unknown format is a usage error"
eb audit frobnicate
is "$RC" 2 "an unknown verb is a usage error"

# --- nothing to do; then the next batch in zstd ---
n=$(sql "SELECT count(*) FROM batches")
eb archive
is "$RC" 0 "a second run exits 0"
like "$OUT" "nothing to archive" "and says there is nothing to do"
is "$(sql "SELECT count(*) FROM batches")" "$n" "without a ledger row"
eb archive --older-than 0
is "$RC" 0 "--older-than 0 takes the recent batch"
like "$OUT" "archived batch $E " "batch E"
# D's process never existed: the ledger marked it abandoned, and abandoned batches are archived
is "$(sql "SELECT status FROM batches WHERE id = $D")" abandoned "the dead running batch was reaped"
like "$OUT" "archived batch $D " "and archived as abandoned"
sed -i 's/^compression = xz/compression = zstd/' "$T/esia-batch.conf"
F=$(new_batch export-checks)
RF=$(request "$F" pfr)
eb archive
is "$RC" 0 "archive with zstd"
ZF=$(archive_of "$F")
like "$ZF" "/$F\.tar\.zst$" "a .tar.zst archive"
is "$(zstd -dc "$ZF" | tar -t | head -1)" MANIFEST "zstd and tar read it"
eb audit verify
is "$RC" 0 "the chain of six verifies across compressions" || diag "$OUT"
is "$(printf '%s\n' "$OUT" | grep -c '^OK ')" 6 "six OK lines"
"$EB" audit show "$RF" >"$T/show5.xml" 2>/dev/null
cmp -s "$T/show5.xml" <(tar -x --zstd -O -f "$ZF" "outbox/pfr/$RF.xml")
ok $? "audit show streams out of a zstd archive"
done_testing
