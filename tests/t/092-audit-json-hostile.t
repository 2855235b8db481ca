#!/usr/bin/env bash
# audit list --json on an archive whose (unsigned) MANIFEST and file name
# hold DEL, C1 controls, U+2028/U+2029 and bytes that are no UTF-8: the
# output is JSON a strict parser takes (strict UTF-8, no raw control or line
# separator), each value as the manifest has it, a stray byte as U+FFFD; the
# plain-text list and show stay one line per item, escaped as in the log.
. "$(dirname "$0")/../lib/harness.sh"

: >"$T/empty.conf"
D=$T/arch
mkdir -p "$D/2026/01"
# the archive's own name: DEL, NEL, U+2028 and a cp1251 byte
name=$'n\x7f\xc2\x85\xe2\x80\xa8\xff'
python3 - "$D/2026/01/$name.tar.xz" <<'PY' || bail "cannot make the hostile archive"
import io, sys, tarfile
m = (b"esia-batch archive manifest 1\nseq: 1\nbatch: 7\n"
     b"job: exp\x7fort\xc2\x85\xe2\x80\xa8\n"
     b"finished: 2026-01-01T00:00:00Z\n"
     b"created: 2026-01-02T00:00:00Z\xe2\x80\xa9\xff\n"
     b"prev: none\n"
     b"packet: p1 outbox/pfr/caf\xe9\x7f\xc2\x9b" b"31m\xf0\x9f\x98\x80.xml\n"
     b"files: 0\n\n")
with tarfile.open(sys.argv[1], "w:xz", format=tarfile.GNU_FORMAT) as t:
    for n, data in (("MANIFEST", m), ("MANIFEST.p7s", b"abcd")):
        ti = tarfile.TarInfo(n); ti.size = len(data); ti.mode = 0o600
        t.addfile(ti, io.BytesIO(data))
PY

eb --config "$T/empty.conf" audit list --archive-dir "$D" --json
is "$RC" 0 "audit list --json runs" || diag "$ERR"
check=$(python3 - "$T/out" <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read()
try:
    text = raw.decode("utf-8")  # strict: a stray byte fails here
except UnicodeDecodeError as e:
    print("not UTF-8: %s" % e); sys.exit()
bad = [hex(ord(c)) for c in text if ord(c) < 0x20 and c != "\n" or 0x7f <= ord(c) < 0xa0 or c in "\u2028\u2029"]
if bad:
    print("raw control or separator characters: %s" % bad); sys.exit()
try:
    d = json.loads(text)
except ValueError as e:
    print("not JSON: %s" % e); sys.exit()
a = d[0]
want = {
    "archive": "2026/01/n\x7f\x85\u2028\ufffd.tar.xz",
    "job": "exp\x7fort\x85\u2028",
    "created": "2026-01-02T00:00:00Z\u2029\ufffd",
    "packet": "outbox/pfr/caf\ufffd\x7f\x9b31m\U0001F600.xml",
}
got = {"archive": a["archive"], "job": a["job"], "created": a["created"], "packet": a["packets"][0]["path"]}
print("ok" if got == want else "got %r" % got)
PY
)
is "$check" ok "strict UTF-8, no raw control character or U+2028/9, JSON, values as in the MANIFEST"
like "$OUT" '"job":"exp\\u007fort\\u0085\\u2028"' "DEL, C1 and U+2028 as \\u escapes"
like "$OUT" 'caf\\ufffd' "a byte that is no UTF-8 as \\ufffd"

# the plain-text list and show: escaped as in the log, one line per item
utf8_lines() { # FILE -> "ok" when strict UTF-8 without raw DEL or C1
	python3 -c 'import sys; t = open(sys.argv[1], "rb").read().decode("utf-8")
print("ok" if not any(0x7f <= ord(c) < 0xa0 for c in t) else "raw control")' "$1" 2>&1 | tail -1
}
eb --config "$T/empty.conf" audit list --archive-dir "$D"
is "$RC" 0 "audit list runs"
is "$(utf8_lines "$T/out") $(wc -l <"$T/out")" "ok 3" "list: header, archive, packet: three lines of UTF-8"
like "$OUT" 'n\\x7f\\xc2\\x85.*\\xff\.tar\.xz .* exp\\x7fort\\xc2\\x85' "list: names and job escaped as in the log"
like "$OUT" 'packet p1 +pfr +outbox/pfr/caf\\xe9\\x7f\\xc2\\x9b31m'$'\xf0\x9f\x98\x80''\.xml$' "list: the packet path escaped"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=anchor -keyout "$T/ca.key" -out "$T/ca.pem" -days 1 \
	>/dev/null 2>&1 || bail "cannot make a trust anchor"
eb --config "$T/empty.conf" audit show p1 --archive-dir "$D" --manifest-trust "$T/ca.pem"
is "$RC" 1 "show: the packet is not in the archive"
is "$(utf8_lines "$T/err") $(wc -l <"$T/err")" "ok 2" "show: two lines of UTF-8 on stderr"
like "$ERR" '^packet p1: outbox/pfr/caf\\xe9\\x7f\\xc2\\x9b31m.* in 2026/01/n\\x7f\\xc2\\x85' "show: names escaped"
done_testing
