#!/usr/bin/env bash
# A MANIFEST name is UTF-8 without control characters: a C1 control (CSI
# starts a terminal sequence) or a byte that is no UTF-8 is refused like a
# C0 control, both where archive writes names from the spool (a rejected
# packet keeps the agency's file name) and where audit reads them back from
# an archive that may be hostile.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/archive-fixtures.sh"

# 1. archive: a name from the spool that cannot go into a MANIFEST stops the
#    batch's archive, the file stays where it is
B=$(new_batch import-responses)
mkdir -p "$SP/rejected/pfr"
for kind in esc csi cp1251; do
	case $kind in
	esc) name=$'esc\x1b[2J.xml' want='esc\\x1b\[2J' ;;
	csi) name=$'csi\xc2\x9b2J.xml' want='csi\\xc2\\x9b2J' ;;
	cp1251) name=$'cp1251\xe9.xml' want='cp1251\\xe9' ;;
	esac
	printf 'x' >"$SP/rejected/pfr/$name"
	printf 'not well-formed XML\nfile: x\nbatch: %s\n' "$B" >"$SP/rejected/pfr/$name.reason"
	eb archive
	isnt "$RC" 0 "archive refuses a $kind name" || diag "$OUT"
	like "$ERR" "file name \"rejected/pfr/$want\\.xml\" cannot go into a manifest" \
		"naming it escaped"
	is "$(archive_of "$B")" "" "no archive is written"
	[ -f "$SP/rejected/pfr/$name" ]
	ok $? "the file stays in rejected/"
	rm -f "$SP/rejected/pfr/$name" "$SP/rejected/pfr/$name.reason"
done
eb archive
is "$RC" 0 "without them the batch is archived" || diag "$ERR"

# 2. audit: an archive whose MANIFEST lists such a name is not read
: >"$T/empty.conf"
for kind in esc csi cp1251; do
	case $kind in
	esc) path=$'print/7/esc\x1b[2J.pdf' ;;
	csi) path=$'print/7/csi\xc2\x9b2J.pdf' ;;
	cp1251) path=$'print/7/cp1251\xe9.pdf' ;;
	esac
	rm -rf "$T/h" && mkdir -p "$T/h/2026/01"
	python3 - "$T/h/2026/01/7.tar.xz" "$path" <<'PY' || bail "cannot make the hostile archive"
import io, os, sys, tarfile
path = os.fsencode(sys.argv[2])
m = (b"esia-batch archive manifest 1\nseq: 1\nbatch: 7\njob: print-letters\n"
     b"finished: 2026-01-01T00:00:00Z\ncreated: 2026-01-02T00:00:00Z\nprev: none\n"
     b"files: 1\n\n" + b"0" * 64 + b" 1 " + path + b"\n")
with tarfile.open(sys.argv[1], "w:xz", format=tarfile.GNU_FORMAT) as t:
    for n, data in (("MANIFEST", m), ("MANIFEST.p7s", b"abcd")):
        ti = tarfile.TarInfo(n); ti.size = len(data); ti.mode = 0o600
        t.addfile(ti, io.BytesIO(data))
PY
	eb --config "$T/empty.conf" audit list --archive-dir "$T/h"
	is "$RC" 0 "audit list runs"
	like "$ERR" '^esia-batch: warning: cannot read archive "2026/01/7\.tar\.xz": MANIFEST: manifest line 10 has a bad path' \
		"a MANIFEST listing a $kind name is refused" || diag "$OUT"
	like "$OUT" '^no archives in ' "and nothing is listed from it"
done
done_testing
