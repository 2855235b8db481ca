#!/usr/bin/env bash
# What a refused packet makes the importer say stays text the log, the
# .reason file and the database can hold: an XSD error quotes the packet's
# value (here an unsigned answer whose Status is no status), so a value with
# newlines, a forged "batch:" line and C1 controls (NEL ends a line for some
# readers, CSI starts a terminal sequence) is escaped on line 1 of its .reason
# and in its log line, and the batch row keeps the reason as line 1 says it;
# a long value that the reason cuts inside a character is refused like any
# other packet (PostgreSQL refused the batch row's update over the half
# character, and the import stopped and failed).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/sim/testlib.sh"

hostile_setup
last_import() { sql "SELECT max(id) FROM batches WHERE job = 'import-responses'"; }
# answer NAME STATUS: an unsigned PFR answer whose Status the XSD refuses,
# quoting it (XML character references allowed in STATUS)
answer_with() {
	printf '<SnilsValidationResponse xmlns="http://kvs.pfr.com/snils-validation/1.0.1" PacketId="00000000-0000-4000-8000-000000000001" CreatedAt="2026-01-01T00:00:00Z" Sender="PFR" Recipient="ESIA" RecordCount="1" InReplyTo="%s"><Result CheckId="1"><Status>%s</Status></Result></SnilsValidationResponse>' \
		"$PFR_REQ" "$2" >"$SP/inbox/pfr/$1"
}
utf8() { iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1; }
NEL=$'\xc2\x85'
CSI=$'\xc2\x9b'

# 1. newlines, a forged batch line and log line, NEL and CSI in the value
answer_with nl.xml 'x&#10;batch: 1&#10;ts=2026-01-01T00:00:00Z level=info event=import.applied file=forged.xml&#133;y&#155;31m'
eb import-responses
b=$(last_import)
is "$RC" 65 "a value with line breaks: refused, exit 65"
R=$SP/rejected/pfr/nl.xml.reason
is "$(sed -n 3p "$R") $(grep -c '^batch: ' "$R")" "batch: $b 1" "line 3 of its .reason is its batch, the only batch line"
like "$(head -1 "$R")" "^does not match pfr-response.xsd: .*The value 'x\\\\nbatch: 1\\\\nts=.*forged\.xml\\\\xc2\\\\x85y\\\\xc2\\\\x9b31m' is not" \
	"line 1 quotes the value on one line, C1 controls as their bytes"
is "$(grep -c "$NEL\|$CSI" "$R" "$T/err" | cut -d: -f2 | tr '\n' ' ')" "0 0 " "no C1 control in the .reason or on stderr"
is "$(grep -vc '^ts=' <<<"$ERR") $(grep -cE '^ts=[^ ]+ level=[^ ]+ (batch=[0-9]+ )?event=import.applied' <<<"$ERR")" "0 0" \
	"every stderr line is a log event, none forged"
is "$(sql "SELECT params->'rejected'->0->>'reason' FROM batches WHERE id = $b")" "$(head -1 "$R")" \
	"the batch row keeps the reason as line 1 says it"

# 2. a value long enough that the reason is cut: at 0, 1 and 2 bytes before a
#    3-byte character one of them is cut inside it
long=$(printf '€%.0s' $(seq 300))
answer_with long0.xml "$long"
answer_with long1.xml "a$long"
answer_with long2.xml "ab$long"
eb import-responses
b=$(last_import)
is "$RC" 65 "three long values: refused, exit 65, not a failed import"
is "$(sql "SELECT status || ' ' || rejected || ' ' || jsonb_array_length(params->'rejected') FROM batches WHERE id = $b")" \
	"partial 3 3" "the batch is partial and lists the three packets"
for n in 0 1 2; do
	[ -f "$SP/rejected/pfr/long$n.xml" ] && [ "$(sed -n 3p "$SP/rejected/pfr/long$n.xml.reason")" = "batch: $b" ]
	ok $? "long$n.xml is in rejected/ with its .reason"
done
is "$(sql "SELECT string_agg(e->>'reason', '|' ORDER BY e->>'file') FROM batches,
	jsonb_array_elements(params->'rejected') e WHERE id = $b")" \
	"$(head -qn1 "$SP/rejected/pfr/long0.xml.reason" "$SP/rejected/pfr/long1.xml.reason" \
		"$SP/rejected/pfr/long2.xml.reason" | paste -sd'|')" "the batch row keeps each reason as its line 1"
cat "$SP/rejected/pfr/"*.reason | utf8
ok $? "every .reason is valid UTF-8"
utf8 <"$T/err"
ok $? "so is stderr"

# the genuine answers still apply afterwards
fresh pfr >/dev/null
fresh fms >/dev/null
eb import-responses
is "$RC" 0 "genuine answers apply afterwards"
is "$(sql "SELECT count(*) FROM checks WHERE state IN ('passed', 'failed')")" 24 "every check answered"
done_testing
