#!/usr/bin/env bash
# audit against a hostile archive folder: a hard-link member carrying the
# linked-to file's name, an archive replaced when verified by name (checked
# against the next one's link), show without a trust anchor, a manifest
# re-signed by a certificate an agency's CA issued with O=ESIA, xz bombs
# (4 GiB dictionary, 512 MiB of zeros) refused fast with bounded memory, a
# member no MANIFEST lists is not decompressed, nothing but zeros may
# follow the tar end marker, and hostile names are shown escaped.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/archive-fixtures.sh"

B1=$(new_batch export-checks)
R1=$(request "$B1" pfr)
R1b=$(request "$B1" fms)
B2=$(new_batch export-checks)
R2=$(request "$B2" pfr)
eb archive
is "$RC" 0 "two batches archived" || diag "$ERR"
A1=$(archive_of "$B1")
REL1=${A1#"$AR"/}
cp "$A1" "$T/a1.orig"
: >"$T/empty.conf"
eb audit verify
is "$RC" 0 "the untouched chain verifies"
unpack() { rm -rf "$T/y"; mkdir -p "$T/y"; tar -xJf "$1" -C "$T/y"; }

# 1. the PFR packet as a pax hard link to the FMS one, still carrying the PFR
#    bytes (its hash matches): tar -x would give the FMS packet under its name
unpack "$T/a1.orig"
python3 - "$T/y" "$T/h.tar" "outbox/fms/$R1b.xml" "outbox/pfr/$R1.xml" <<'PY'
import io, os, sys, tarfile
d, out, fms, pfr = sys.argv[1:]
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    for n in ["MANIFEST", "MANIFEST.p7s", fms, pfr]:
        data = open(os.path.join(d, n), "rb").read()
        ti = tarfile.TarInfo(n); ti.size = len(data); ti.mode = 0o600
        ti.pax_headers = {"comment": "x"}
        if n == pfr:
            ti.type = tarfile.LNKTYPE; ti.linkname = fms
        t.addfile(ti, io.BytesIO(data))
PY
xz -c "$T/h.tar" >"$A1"
eb audit verify "$A1"
is "$RC" 65 "a hard-link member fails verify"
like "$OUT" "FAIL $REL1: .*file outbox/pfr/$R1.xml is a hard link to outbox/fms/$R1b.xml" "naming the link"
eb audit verify
unlike "$ERR" "chain head" "no chain head is offered when verify failed"
eb audit show "$R1"
is "$RC" 1 "show refuses to stream a hard-link member"
cp "$T/a1.orig" "$A1"

# 2. archive 1 replaced by one consistent in itself: verifying it by name
#    checks the next archive's link to it too
unpack "$T/a1.orig"
tar -tJf "$T/a1.orig" >"$T/members"
tar -cJf "$A1" --format=gnu --owner=0 --group=0 --mtime=@0 -C "$T/y" -T "$T/members"
eb audit verify "$A1"
is "$RC" 65 "a replaced first archive fails when verified by name"
like "$OUT" "FAIL $REL1: chain: the next archive .* \(position 2\) links to prev [0-9a-f]{12}\.\.\., not to this one" \
	"naming the next archive's link"
cp "$T/a1.orig" "$A1"
eb audit verify "$A1"
is "$RC" 0 "restored, it verifies by name"

# 3. show with no trust anchor at all fails like verify, printing nothing
eb --config "$T/empty.conf" audit show "$R1" --archive-dir "$AR"
is "$RC" 1 "audit show with no trust anchor exits 1"
like "$ERR" "no trust anchor for manifests" "and says why"
is "$OUT" "" "and shows nothing"
eb --config "$T/empty.conf" audit show "$R1" --archive-dir "$AR" --manifest-trust "$P/esia-ca.pem"
is "$RC" 0 "with the project's CA it shows a request" || diag "$ERR"
like "$ERR" "manifest signature: valid" "checked"

# 4. a certificate issued by the PFR CA with O=ESIA re-signs a forged
#    manifest; the one-bundle --trust no longer anchors manifests
( cd "$P" && : >index.txt && { [ -f serial ] || echo 3000 >serial; } && openssl req -newkey rsa:2048 -nodes -keyout rogue.key -out rogue.csr \
	-subj "/CN=rogue/O=ESIA" && openssl ca -batch -config ca.cnf -cert pfr-ca.pem -keyfile pfr-ca.key \
	-in rogue.csr -out rogue.pem -startdate 20240101000000Z -enddate 20391231000000Z \
	-extensions v3_leaf -notext ) >/dev/null 2>&1 || bail "cannot make the rogue certificate"
rm -rf "$T/rogue" "$T/h" && mkdir -p "$T/rogue/2026/01" "$T/h/print/9"
printf 'forged letters' >"$T/h/print/9/letters.pdf"
printf 'esia-batch archive manifest 1\nseq: 1\nbatch: 9\njob: print-letters\nfinished: 2026-01-01T00:00:00Z\ncreated: 2026-01-02T00:00:00Z\nprev: none\nfiles: 1\n\n%s 14 print/9/letters.pdf\n' \
	"$(sha256sum <"$T/h/print/9/letters.pdf" | cut -d' ' -f1)" >"$T/h/MANIFEST"
openssl cms -sign -binary -outform DER -in "$T/h/MANIFEST" -signer "$P/rogue.pem" -inkey "$P/rogue.key" \
	-out "$T/h/MANIFEST.p7s" 2>/dev/null
tar -cJf "$T/rogue/2026/01/9.tar.xz" --format=pax -C "$T/h" MANIFEST MANIFEST.p7s print/9/letters.pdf
cat "$P/esia-ca.pem" "$P/pfr-ca.pem" "$P/fms-ca.pem" >"$T/cas.pem"
eb --config "$T/empty.conf" audit verify --archive-dir "$T/rogue" --trust "$T/cas.pem"
is "$RC" 1 "the old one-bundle usage no longer verifies anything (exit 1)"
like "$ERR" "no trust anchor for manifests" "it asks for the project's CA"
unlike "$OUT" "^OK" "and passes nothing"
cat "$P/pfr-ca.pem" "$P/fms-ca.pem" >"$T/agencies.pem"
eb --config "$T/empty.conf" audit verify --archive-dir "$T/rogue" --manifest-trust "$P/esia-ca.pem" \
	--trust "$T/agencies.pem"
is "$RC" 65 "a manifest signed under the PFR CA fails against the project's CA"
like "$OUT" "FAIL 2026/01/9.tar.xz: MANIFEST.p7s: .*certificate verify error" "as a certificate failure"

# 5. xz bombs: a 4 GiB dictionary over 512 MiB of zeros
M=$((512 << 20))
mkdir -p "$T/bomb1/2026/01" "$T/bomb2/2026/01"
printf 'esia-batch archive manifest 1\nseq: 1\nbatch: 1\njob: export-checks\nfinished: 2026-01-01T00:00:00Z\ncreated: 2026-01-01T00:00:00Z\nprev: none\nfiles: 0\n\n' >"$T/M"
printf 'abcd' >"$T/S"
python3 "$TOP/tests/lib/xz-bomb.py" "$T/bomb1/2026/01/1.tar.xz" 40 "$M" MANIFEST="$T/M" MANIFEST.p7s="$T/S" ||
	bail "cannot make the bomb"
# the second one behind a genuine, validly signed archive
unpack "$T/a1.orig"
args=()
while read -r f; do args+=("$f=$T/y/$f"); done <"$T/members"
python3 "$TOP/tests/lib/xz-bomb.py" "$T/bomb2/2026/01/$B1.tar.xz" 40 "$M" "${args[@]}" || bail "cannot make the bomb"
for b in bomb1 bomb2; do
	/usr/bin/time -f %M -o "$T/rss" "$EB" --config "$T/empty.conf" audit verify --archive-dir "$T/$b" \
		--manifest-trust "$P/esia-ca.pem" >"$T/out" 2>"$T/err"
	RC=$?
	is "$RC" 65 "$b: verify fails"
	rss=$(tail -1 "$T/rss")
	[ "$rss" -lt 300000 ]
	ok $? "$b: with bounded memory (peak RSS ${rss} KB < 300 MB)"
done
like "$(cat "$T/out")" "FAIL 2026/01/$B1.tar.xz: cannot open: xz needs 4096 MiB to decompress, over the 72 MiB limit" \
	"refused by the memory its dictionary needs, before decoding"
# a plain dictionary, zeros behind the genuine files: reading stops there
mkdir -p "$T/bomb3/2026/01"
python3 "$TOP/tests/lib/xz-bomb.py" "$T/bomb3/2026/01/$B1.tar.xz" 16 $((64 << 20)) "${args[@]}" || bail "cannot make the bomb"
eb --config "$T/empty.conf" audit verify --archive-dir "$T/bomb3" --manifest-trust "$P/esia-ca.pem"
is "$RC" 65 "zeros appended behind a genuine archive fail"
like "$OUT" "file big.bin is not in the MANIFEST \(the rest of the archive is not read\)" \
	"the genuine files check out, the appended member is named and not read"
unlike "$OUT" "outbox/.*(mismatch|not in the archive)" "and no genuine file is blamed"

# 6. a member hidden behind the tar end marker (what tar -i extracts): in the
#    same xz stream, in a second xz stream, in zstd; and a truncated archive
xz -dc "$T/a1.orig" >"$T/a1.tar"
printf 'not in any manifest\n' >"$T/hidden.txt"
tar -cf "$T/hidden.tar" -C "$T" hidden.txt
mkdir -p "$T/tr1/2026/01" "$T/tr2/2026/01" "$T/tr3/2026/01" "$T/tr4/2026/01" "$T/tr5/2026/01"
cat "$T/a1.tar" "$T/hidden.tar" | xz -c >"$T/tr1/2026/01/$B1.tar.xz"
{ cat "$T/a1.orig"; xz -c "$T/hidden.tar"; } >"$T/tr2/2026/01/$B1.tar.xz"
cat "$T/a1.tar" "$T/hidden.tar" | zstd -q -c >"$T/tr3/2026/01/$B1.tar.zst"
tar -tif "$T/tr1/2026/01/$B1.tar.xz" 2>/dev/null | grep -q '^hidden.txt$'
ok $? "(tar -i lists the hidden member)"
for d in tr1 tr2 tr3; do
	eb --config "$T/empty.conf" audit verify --archive-dir "$T/$d" --manifest-trust "$P/esia-ca.pem"
	is "$RC" 65 "$d: a member behind the end marker fails verify"
	like "$OUT" "FAIL 2026/01/$B1\.tar\.(xz|zst): data after the tar end marker \(at byte [0-9]+\)" "$d: saying so"
done
# zeros there are tar's own padding: the same bytes in zstd verify
zstd -q -c "$T/a1.tar" >"$T/tr4/2026/01/$B1.tar.zst"
eb --config "$T/empty.conf" audit verify --archive-dir "$T/tr4" --manifest-trust "$P/esia-ca.pem"
is "$RC" 0 "the genuine archive recompressed with zstd verifies" || diag "$OUT $ERR"
head -c $(($(stat -c %s "$T/a1.orig") - 40)) "$T/a1.orig" >"$T/tr5/2026/01/$B1.tar.xz"
eb --config "$T/empty.conf" audit verify --archive-dir "$T/tr5" --manifest-trust "$P/esia-ca.pem"
is "$RC" 65 "a truncated archive fails"
like "$OUT" "FAIL 2026/01/$B1\.tar\.xz: .*truncated" "as truncated"

# 7. names from the archive folder are shown escaped, one line each: an
#    archive's name cannot forge a line or a terminal sequence
evil=$'x\nOK   1.tar.xz: forged\x1b[2J\xff'
mkdir -p "$T/names/2026/01"
printf 'not an archive' >"$T/names/2026/01/$evil.tar.xz"
eb --config "$T/empty.conf" audit list --archive-dir "$T/names"
is "$(wc -l <"$T/err")" 1 "list: the unreadable archive is one warning line"
like "$ERR" '^esia-batch: warning: cannot read archive "2026/01/x\\nOK   1\.tar\.xz: forged\\x1b\[2J\\xff\.tar\.xz"' \
	"its name escaped as in the log"
# and in verify's verdicts, with a genuine archive carrying a member of such
# a name that its signed MANIFEST does not list
unpack "$T/a1.orig"
printf 'extra' >"$T/y/$evil"
tar -cJf "$T/names/2026/01/$B1.tar.xz" --format=gnu -C "$T/y" -T "$T/members" "$evil"
eb --config "$T/empty.conf" audit verify --archive-dir "$T/names" --manifest-trust "$P/esia-ca.pem"
is "$RC" 65 "verify: both fail"
is "$(grep -c . <"$T/out") $(grep -vc '^FAIL ' <"$T/out") $(grep -c $'\x1b' "$T/out" "$T/err" | cut -d: -f2 | tr '\n' ' ')" \
	"2 0 0 0 " "verify: one FAIL line each, no forged OK line, no ESC"
like "$OUT" "FAIL 2026/01/$B1\.tar\.xz: file x\\\\nOK   1\.tar\.xz: forged\\\\x1b\[2J\\\\xff is not in the MANIFEST" \
	"the member's name escaped"
like "$OUT" 'FAIL 2026/01/x\\nOK   1\.tar\.xz: forged\\x1b\[2J\\xff\.tar\.xz: ' "the archive's name escaped"
done_testing
