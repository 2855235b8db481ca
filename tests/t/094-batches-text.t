#!/usr/bin/env bash
# The operator's views, `batches` and `batch show`, print text from outside
# (a batch's error quoting a packet's name, a file name an agency chose, a
# server's words) escaped as in the log: ESC, CR or a newline in it cannot
# forge or hide a line on the terminal. Table cells are padded by
# characters, not bytes, so a Cyrillic one keeps the columns aligned, and a
# long one is cut at 60 characters, between characters and whole escapes;
# `batch show`'s own fields are shown whole. --json is unchanged.
. "$(dirname "$0")/../lib/harness.sh"
PY=/usr/bin/python3
[ -x $PY ] || PY=python3

# one_line FILE: "ok" when strict UTF-8 with no control character but the
# newlines ending lines, nor U+2028/U+2029
one_line() {
	$PY -c 'import sys
t = open(sys.argv[1], "rb").read().decode("utf-8")
bad = [hex(ord(c)) for c in t if c != "\n" and (ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 or c in "\u2028\u2029")]
print("ok" if not bad else "raw: " + " ".join(bad))' "$1" 2>&1 | tail -1
}
# aligned FILE SECTION: "ok" when in SECTION's table (from the line after
# "SECTION:" to a blank line) every row's value of each column starts where
# the header's name does (no cell empty)
aligned() {
	$PY -c 'import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
at = lines.index(sys.argv[2] + ":") + 1
end = lines.index("", at)
head, rows = lines[at], lines[at + 1:end]
starts = [m.start() for m in re.finditer(r"\S+", head)]
bad = [r for r in rows if any(s > 0 and (len(r) <= s or r[s - 2:s] != "  " or r[s] == " ") for s in starts)]
print("ok" if rows and not bad else "misaligned: %r" % bad)' "$1" "$2" 2>&1 | tail -1
}

# an error quoting a packet's name with ESC, CR and a newline in it
bad=$(sql "INSERT INTO batches (job, status, finished_at, error, host, params)
	VALUES ('text-job', 'failed', now(), E'packet evil\\x1b[2J\\rok\\nforged.xml refused', E'h\\x1b]0;x\\x07',
	        E'{\"argv\": [\"import-responses\", \"--agency\", \"p\\u0085fr\"]}') RETURNING id")
eb batches --job text-job
is "$RC/$(one_line "$T/out")/$(wc -l <"$T/out")" "0/ok/2" "batches: a header and one row, no raw control character"
like "$(grep "^$bad " "$T/out")" ' packet evil\\x1b\[2J\\rok\\nforged\.xml refused$' \
	"batches: ESC, CR and the newline in the error escaped as in the log"
eb batch show "$bad"
is "$RC/$(one_line "$T/out")" "0/ok" "batch show: no raw control character"
is "$(grep -E '^(error|host|params) ' "$T/out")" \
	'params       {"argv": ["import-responses", "--agency", "p\xc2\x85fr"]}
host         h\x1b]0;x\x07
error        packet evil\x1b[2J\rok\nforged.xml refused' \
	"batch show: the error, the host and a C1 control (NEL) in params escaped, one line each"
eb batches --job text-job --json
is "$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["error"] == "packet evil\x1b[2J\rok\nforged.xml refused")' "$T/out" 2>&1)" \
	True "--json keeps the error as it is (JSON-escaped)"

# packets: a Cyrillic file name keeps the columns aligned; a hostile name
# and reason are escaped
pk() { # NAME REASON
	sql "INSERT INTO packets (id, direction, agency, batch_id, file_name, sha256, records, bytes, status, reason)
	     VALUES (gen_random_uuid(), 'response', 'pfr', $bad, E'$1', repeat('0', 64), 7, 0, 'rejected', E'$2')"
}
pk 'answer-1.xml' 'XSD error'
pk 'Ответ-ПФР-сентябрь.xml' 'Ошибка подписи'
eb batch show "$bad"
is "$(aligned "$T/out" packets)" ok "the packets table: every column aligned, the Cyrillic row too"
pk 'evil\x1b[1A\r\n.xml' 'bad name\x1b[0m'
eb batch show "$bad"
is "$(one_line "$T/out")/$(aligned "$T/out" packets)" ok/ok "a hostile file name: no raw control character, still aligned"
like "$(grep ' evil' "$T/out")" ' evil\\x1b\[1A\\r\\n\.xml +7 +rejected +bad name\\x1b\[0m *$' \
	"the hostile file name and reason escaped on their row"

# a long error: the table cuts it at 60 characters, between letters ('x' +
# 8 x 7 + "Оши" is 60); batch show gives it whole
cy=$(sql "INSERT INTO batches (job, status, finished_at, error)
	VALUES ('cyr-job', 'failed', now(), 'x' || repeat('Ошибка ', 20)) RETURNING id")
eb batches --job cyr-job
is "$RC/$(one_line "$T/out")" "0/ok" "batches lists the batch with a long Cyrillic error, valid UTF-8"
like "$(grep "^$cy " "$T/out")" " x(Ошибка ){8}Оши$" "the error cut at 60 characters, after the last whole letter"
eb batch show "$cy"
is "$(grep '^error ' "$T/out")" "error        x$(printf 'Ошибка %.0s' $(seq 20))" "batch show: the error whole"
# an escape is not halved by the cut: 58 letters and ESC (4 characters as \x1b)
es=$(sql "INSERT INTO batches (job, status, finished_at, error)
	VALUES ('esc-job', 'failed', now(), repeat('a', 58) || E'\\x1btail') RETURNING id")
eb batches --job esc-job
like "$(grep "^$es " "$T/out")" " a{58}$" "the cut leaves out a whole escape that would pass 60"
done_testing
