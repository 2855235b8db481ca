#!/usr/bin/env bash
# audit verify catches tampering and names what fails: one changed byte in
# one packet (archive rewritten around it), an edited MANIFEST, an archive
# deleted from the middle of the chain, the newest archive deleted (caught
# with the chain head recorded earlier, --head), an archive replaced by
# another one that is internally consistent. Archives are rewritten with GNU tar (not our
# code), exactly as an attacker with the files would.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/archive-fixtures.sh"

for i in 1 2 3 4; do
	b=$(new_batch export-checks)
	eval "B$i=$b"
	eval "R$i=$(request "$b" pfr)"
done
eb archive
is "$RC" 0 "four batches archived" || diag "$ERR"
A2=$(archive_of "$B2")
A3=$(archive_of "$B3")
REL2=${A2#"$AR"/}
REL3=${A3#"$AR"/}
cp "$A2" "$T/a2.orig"
eb audit verify
is "$RC" 0 "the untouched chain verifies"
A4=$(archive_of "$B4")
like "$ERR" "chain head: position 4, ${A4#"$AR"/}, sha256 $(sha256sum "$A4" | cut -c1-64)" \
	"it ends by naming the chain head with its SHA-256"
HEAD=$(sha256sum "$A4" | cut -c1-64)

# rewrite ARCHIVE from folder DIR, members in the original order
repack() { # ARCHIVE DIR ORIGINAL
	tar -tJf "$3" >"$T/members"
	tar -cJf "$1.new" --format=pax -C "$2" -T "$T/members" && mv "$1.new" "$1"
}
unpack() { rm -rf "$T/y"; mkdir -p "$T/y"; tar -xJf "$1" -C "$T/y"; }

# 1. one byte inside one packet
unpack "$T/a2.orig"
f=$T/y/outbox/pfr/$R2.xml
perl -0pi -e 's/11223344595/11223344594/' "$f"
tar -xJf "$T/a2.orig" -O "outbox/pfr/$R2.xml" >"$T/orig2.xml"
is "$(cmp -l "$f" "$T/orig2.xml" | wc -l)" 1 "exactly one byte changed in the packet"
repack "$A2" "$T/y" "$T/a2.orig"
eb audit verify
is "$RC" 65 "verify fails with 65"
like "$OUT" "FAIL $REL2: .*file outbox/pfr/$R2.xml sha256 mismatch" "names the changed packet"
like "$OUT" "FAIL $REL2: .*packet outbox/pfr/$R2.xml: signature: .*digest mismatch" "and its broken XML signature"
like "$OUT" "OK   $(archive_of "$B1" | sed "s|$AR/||")" "the archive before is fine"
like "$OUT" "FAIL $REL3: chain: prev link [0-9a-f]{12}\.\.\. does not match $REL2 \(position 2" "the next archive names the broken link"
is "$(printf '%s\n' "$OUT" | grep -c '^FAIL')" 2 "two FAIL lines, one per affected archive"
eb audit verify "$A2"
is "$RC" 65 "verifying just that archive fails too"
is "$(printf '%s\n' "$OUT" | wc -l)" 1 "with one line"
eb audit show "$R2"
is "$RC" 65 "audit show of the changed packet exits 65"
like "$ERR" "integrity: FAILED" "and says the integrity check failed"
cp "$T/a2.orig" "$A2"

# 2. MANIFEST edited (hashes untouched, signature no longer matches)
unpack "$T/a2.orig"
sed -i 's/^created: .*/created: 2020-01-01T00:00:00Z/' "$T/y/MANIFEST"
repack "$A2" "$T/y" "$T/a2.orig"
eb audit verify
is "$RC" 65 "an edited MANIFEST fails"
like "$OUT" "FAIL $REL2: MANIFEST.p7s: signature does not verify" "as a manifest signature failure"
cp "$T/a2.orig" "$A2"

# a MANIFEST that lists a file with a changed hash, re-signed by a foreign key
unpack "$T/a2.orig"
sed -i "s/^[0-9a-f]\{64\} \(.*$R2.xml\)$/$(printf '%064d' 0) \1/" "$T/y/MANIFEST"
openssl cms -sign -binary -outform DER -in "$T/y/MANIFEST" -signer "$P/foreign-signer.pem" \
	-inkey "$P/foreign-signer.key" -out "$T/y/MANIFEST.p7s" 2>/dev/null
repack "$A2" "$T/y" "$T/a2.orig"
eb audit verify
like "$OUT" "FAIL $REL2: MANIFEST.p7s: signature does not verify" "a re-signed MANIFEST by a foreign key fails its signature"
unlike "$OUT" "sha256 mismatch" "and its files are not held to (nor read for) a MANIFEST nobody trusted signed"
cp "$T/a2.orig" "$A2"

# 3. an archive deleted from the middle
rm "$A2"
eb audit verify
is "$RC" 65 "a deleted archive fails the chain"
like "$OUT" "FAIL $REL3: chain: archive at position 2 \(sha256 [0-9a-f]{12}\.\.\.\) is missing" "the next archive names the missing link"
cp "$T/a2.orig" "$A2"

# 3b. the newest archive deleted: the chain alone cannot tell, the head recorded earlier can
mv "$A4" "$T/a4.orig"
eb audit verify
is "$RC" 0 "the newest archive deleted: the chain alone still verifies (what --head is for)"
eb audit verify --head "$HEAD"
is "$RC" 65 "with the head recorded earlier, verify fails"
like "$OUT" "FAIL chain: no archive has sha256 ${HEAD:0:12}\.\.\. \(the head given\): archives were removed" \
	"and says archives were removed from the end"
mv "$T/a4.orig" "$A4"
eb audit verify --head "$HEAD"
is "$RC" 0 "restored: verify --head passes"
like "$OUT" "OK   chain: ${A4#"$AR"/} \(sha256 ${HEAD:0:12}\.\.\.\) is in the chain, at position 4 of 4" "and says where the head is"
eb audit verify --head "${HEAD^^}"
is "$RC" 2 "--head with anything but 64 lowercase hex digits is a usage error"
eb audit list --head "$HEAD"
is "$RC" 2 "--head is for verify only"

# 4. replaced by an archive that is consistent in itself (same files, same
#    signed MANIFEST, repacked): only the chain can tell
unpack "$T/a2.orig"
tar -tJf "$T/a2.orig" >"$T/members"
tar -cJf "$A2" --format=gnu --owner=0 --group=0 --mtime=@0 -C "$T/y" -T "$T/members"
isnt "$(sha256sum <"$A2")" "$(sha256sum <"$T/a2.orig")" "(the replacement differs from the original)"
eb audit verify
is "$RC" 65 "a replaced archive fails"
like "$OUT" "OK   $REL2" "the replacement is consistent in itself"
like "$OUT" "FAIL $REL3: chain: prev link .* does not match $REL2" "the link from the next archive names it"
cp "$T/a2.orig" "$A2"

# 5. an archive with a member added that the MANIFEST does not list
unpack "$T/a2.orig"
printf 'extra' >"$T/y/extra.txt"
tar -tJf "$T/a2.orig" >"$T/members"
echo extra.txt >>"$T/members"
tar -cJf "$A2" --format=pax -C "$T/y" -T "$T/members"
eb audit verify "$A2"
like "$OUT" "FAIL $REL2: .*file extra.txt is not in the MANIFEST" "an extra member is named"
cp "$T/a2.orig" "$A2"

eb audit verify
is "$RC" 0 "restored: the chain verifies again"

# 6. long-term: a manifest signer whose certificate has expired since is
#    checked as of the archive's creation; the signer's O= is pinned
mkdir -p "$T/ca" && cp "$P/ca.cnf" "$T/ca/" && (
	cd "$T/ca" && : >index.txt && echo 2000 >serial &&
	openssl req -new -newkey rsa:2048 -nodes -keyout oldca.key -out oldca.csr -subj "/CN=old-ca/O=ESIA" &&
	openssl ca -batch -selfsign -config ca.cnf -keyfile oldca.key -in oldca.csr -out oldca.pem \
		-startdate 20170101000000Z -enddate 20370101000000Z -extensions v3_ca -notext &&
	openssl req -newkey rsa:2048 -nodes -keyout old.key -out old.csr -subj "/CN=old-signer/O=ESIA" &&
	openssl ca -batch -config ca.cnf -cert oldca.pem -keyfile oldca.key -in old.csr \
		-out old.pem -startdate 20180101000000Z -enddate 20200101000000Z -extensions v3_leaf -notext
) >/dev/null 2>&1 || bail "cannot make an old CA and certificate"
hand_archive() { # DIR CREATED SIGNER-CERT SIGNER-KEY
	rm -rf "$1" "$T/h" && mkdir -p "$1/2019/06" "$T/h/print/9"
	printf 'letters' >"$T/h/print/9/letters.pdf"
	printf 'esia-batch archive manifest 1\nseq: 1\nbatch: 9\njob: print-letters\nfinished: 2019-06-01T00:00:00Z\ncreated: %s\nprev: none\nfiles: 1\n\n%s 7 print/9/letters.pdf\n' \
		"$2" "$(sha256sum <"$T/h/print/9/letters.pdf" | cut -d' ' -f1)" >"$T/h/MANIFEST"
	openssl cms -sign -binary -outform DER -in "$T/h/MANIFEST" -signer "$3" -inkey "$4" -out "$T/h/MANIFEST.p7s"
	tar -cJf "$1/2019/06/9.tar.xz" --format=pax -C "$T/h" MANIFEST MANIFEST.p7s print/9/letters.pdf
}
hand_archive "$T/old" 2019-06-01T01:00:00Z "$T/ca/old.pem" "$T/ca/old.key"
eb audit verify --archive-dir "$T/old" --manifest-trust "$T/ca/oldca.pem"
is "$RC" 0 "an archive signed in 2019 by a certificate that expired in 2020 still verifies"
hand_archive "$T/old" 2026-11-01T01:00:00Z "$T/ca/old.pem" "$T/ca/old.key"
eb audit verify --archive-dir "$T/old" --manifest-trust "$T/ca/oldca.pem"
like "$OUT" "FAIL 2019/06/9.tar.xz: MANIFEST.p7s: .*certificate verify error" "one claiming a time after expiry does not"
cat "$P/esia-ca.pem" "$P/pfr-ca.pem" >"$T/two.pem"
hand_archive "$T/old" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$P/pfr-signer.pem" "$P/pfr-signer.key"
: >"$T/empty.conf"
eb --config "$T/empty.conf" audit verify --archive-dir "$T/old" --manifest-trust "$T/two.pem"
like "$OUT" "FAIL 2019/06/9.tar.xz: MANIFEST.p7s: signer organisation is PFR, expected ESIA" "a manifest signed by another trusted organisation is refused"
done_testing
