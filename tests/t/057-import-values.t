#!/usr/bin/env bash
# import-responses and the values inside a signed, schema-valid packet: a
# CheckId is read as the number xs:long says it is (never its text cut to a
# buffer: 32 zero-padded characters once answered another citizen's check),
# InvalidSince only as YYYY-MM-DD, and a value PostgreSQL still refuses (a
# data error, SQLSTATE class 22) refuses the packet, not the job: it goes to
# rejected/ with the SQLSTATE as its reason, never the value, and the other
# packets of the run are imported (exit 65). Each case is also run against
# the XSDs without their patterns (an older formats/ folder), where the
# importer's own checks must hold alone.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/sim/testlib.sh"

hostile_setup

# only_one AG FILE CHECKID VALUE: keep the one Result for CHECKID, its
# CheckId written as VALUE, status mismatch (PFR answers only)
only_one() {
	xsltproc --param keep "$3" --stringparam value "$4" - "$2" <<'XSL'
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:param name="keep"/><xsl:param name="value"/>
  <xsl:template match="@*|node()"><xsl:copy><xsl:apply-templates select="@*|node()"/></xsl:copy></xsl:template>
  <xsl:template match="@RecordCount"><xsl:attribute name="RecordCount">1</xsl:attribute></xsl:template>
  <xsl:template match="*[local-name() = 'Result']">
    <xsl:if test="@CheckId = $keep"><xsl:copy><xsl:apply-templates select="@*|node()"/></xsl:copy></xsl:if>
  </xsl:template>
  <xsl:template match="*[local-name() = 'Result']/@CheckId"><xsl:attribute name="CheckId"><xsl:value-of select="$value"/></xsl:attribute></xsl:template>
  <xsl:template match="*[local-name() = 'Status']/text()">mismatch</xsl:template>
</xsl:stylesheet>
XSL
}
state() { sql "SELECT state FROM checks WHERE id = $1"; }
# the formats/ folder the importer reads
use_formats() { sed -i "s|^formats = .*|formats = $1|" "$T/esia-batch.conf"; }
mkdir -p "$T/formats-old"
cp "$TOP/formats/"* "$T/formats-old/"
sed -i -e '/<xs:pattern value="\[1-9\]\[0-9\]\*"\/>/d' -e 's/type="tns:Date"/type="xs:date"/' \
	"$T/formats-old/pfr-response.xsd" "$T/formats-old/fms-response.xsd"
grep -q 'pattern value="\[1-9\]' "$T/formats-old/"*-response.xsd && bail "formats-old still has the CheckId pattern"

# a PFR check X whose CheckId without its last digit is another PFR check Y
X=$(sql "SELECT c.id FROM checks c JOIN checks y ON y.id = c.id / 10 AND y.packet_id = c.packet_id
	WHERE c.packet_id = '$PFR_REQ' ORDER BY c.id LIMIT 1")
Y=$((X / 10))
[ -n "$X" ] && [ "$Y" -gt 0 ] || bail "no pair of checks X, X/10 in the PFR request"
PAD=$(printf '%032d' "$X")

# 1. 32 zero-padded characters: the shipped XSD wants checks.id as written
tmpl pfr 00000000-0000-4000-8000-0000000000a1
only_one pfr "$T/pfr.tmpl" "$X" "$PAD" >"$T/pad.tmpl"
sign pfr "$T/pad.tmpl" pad.xml
xmlsec1 --verify --trusted-pem "$T/pki/pfr-ca.pem" "$SP/inbox/pfr/pad.xml" >/dev/null 2>&1
ok $? "padded CheckId: the packet is properly signed"
expect pad.xml pfr "^does not match pfr-response.xsd" "a CheckId of 32 zero-padded characters"
is "$(state "$Y") $(state "$X")" "sent sent" "padded CheckId: neither check $Y nor $X answered"

# 2. the same under an XSD without the pattern: the value is read, so the
# answer lands on check X, never on Y
use_formats "$T/formats-old"
tmpl pfr 00000000-0000-4000-8000-0000000000a2
only_one pfr "$T/pfr.tmpl" "$X" "$PAD" >"$T/pad.tmpl"
sign pfr "$T/pad.tmpl" pad2.xml
eb import-responses
is "$RC" 0 "padded CheckId, older XSD: applied"
is "$(state "$Y")" sent "padded CheckId, older XSD: check $Y (the cut text) untouched"
is "$(state "$X")" failed "padded CheckId, older XSD: check $X (the value) answered"

# a padded CheckId past the range of xs:long (and long long) never applies
tmpl pfr 00000000-0000-4000-8000-0000000000a3
only_one pfr "$T/pfr.tmpl" "$Y" "+0009223372036854775808" >"$T/big.tmpl"
sign pfr "$T/big.tmpl" big.xml
expect big.xml pfr "^does not match pfr-response.xsd" "a CheckId past 2^63-1, older XSD"
is "$(state "$Y")" sent "CheckId past 2^63-1: check $Y untouched"

# 3. InvalidSince with a time zone (a valid xs:date): refused by the
# importer itself, not by COPY stopping the job
tmpl fms 00000000-0000-4000-8000-0000000000a4
sed '0,/<Status>not_found<\/Status>/s//<Status>invalid<\/Status><Reason>утрачен<\/Reason><InvalidSince>2020-01-01-05:00<\/InvalidSince>/' \
	"$T/fms.tmpl" >"$T/tz.tmpl"
sign fms "$T/tz.tmpl" tz.xml
expect tz.xml fms "^result for CheckId [0-9]+: InvalidSince is not a date YYYY-MM-DD$" \
	"InvalidSince with a time zone, older XSD"
use_formats "$TOP/formats"

# 4. one run, shipped XSDs: a PFR answer whose first CheckId ends in a TAB
# character reference (the schema collapses whitespace, so it is valid) and
# the FMS answer with the zoned date. The PFR answer applies, the FMS one is
# refused and changes nothing, exit 65.
tmpl pfr 00000000-0000-4000-8000-0000000000a5
sed '0,/CheckId="\([0-9]*\)"/s//CheckId="\1\&#9;"/' "$T/pfr.tmpl" >"$T/tab.tmpl"
grep -q 'CheckId="[0-9]*&#9;"' "$T/tab.tmpl" || bail "no TAB in the CheckId"
tabbed=$(sed -n 's/.*CheckId="\([0-9]*\)&#9;".*/\1/p' "$T/tab.tmpl" | head -1)
[ -n "$tabbed" ] || bail "cannot read the CheckId with the TAB"
sign pfr "$T/tab.tmpl" tab.xml
xmllint --noout --schema "$TOP/formats/pfr-response.xsd" "$SP/inbox/pfr/tab.xml" 2>/dev/null
ok $? "TAB in a CheckId: schema-valid"
mv "$SP/rejected/fms/tz.xml" "$SP/inbox/fms/tz.xml"
rm -f "$SP/rejected/fms/tz.xml.reason"
fms_before=$(sql "SELECT string_agg(id || ':' || state || ':' || coalesce(reason, ''), ',' ORDER BY id) FROM checks WHERE agency = 'fms'")
eb import-responses
is "$RC" 65 "TAB in a CheckId and a zoned InvalidSince in one run: exit 65"
unlike "$ERR" "error:" "no error: each packet was applied or refused"
[ -f "$SP/processed/pfr/tab.xml" ]
ok $? "TAB in a CheckId: the packet applied (processed/)"
is "$(state "$tabbed")" failed "TAB in a CheckId: its check $tabbed answered"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state = 'sent'")" 0 \
	"TAB in a CheckId: every PFR check answered"
[ -f "$SP/rejected/fms/tz.xml" ] && [ "$(inbox_count)" = 0 ]
ok $? "zoned InvalidSince: moved to rejected/, the inbox is empty"
like "$(head -1 "$SP/rejected/fms/tz.xml.reason")" "^does not match fms-response.xsd" "zoned InvalidSince: reason"
is "$(sql "SELECT string_agg(id || ':' || state || ':' || coalesce(reason, ''), ',' ORDER BY id) FROM checks WHERE agency = 'fms'")" \
	"$fms_before" "zoned InvalidSince: the FMS checks unchanged"
is "$(sql "SELECT count(*) FROM packets WHERE id = '00000000-0000-4000-8000-0000000000a4'")" 0 \
	"zoned InvalidSince: no packet row"

# 5. a data error PostgreSQL raises while a packet is applied (here from a
# trigger, quoting a value as a cast would): the packet is refused, its
# reason names the SQLSTATE; neither the log nor the reason quotes the value
sql "CREATE FUNCTION t_data_error() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
	RAISE EXCEPTION 'invalid input syntax for type date: \"%\"', NEW.reason
	USING ERRCODE = '22007', DETAIL = 'Failing value: ' || NEW.reason; END \$\$;
	CREATE TRIGGER t_data_error BEFORE UPDATE ON checks FOR EACH ROW
	WHEN (NEW.reason LIKE '%4509 987654%') EXECUTE FUNCTION t_data_error()" >/dev/null
tmpl fms 00000000-0000-4000-8000-0000000000a6
sed '0,/<Status>not_found<\/Status>/s//<Status>invalid<\/Status><Reason>паспорт 4509 987654 утрачен<\/Reason>/' \
	"$T/fms.tmpl" >"$T/d22.tmpl"
sign fms "$T/d22.tmpl" d22.xml
expect d22.xml fms "^the database refused a value in it \(sqlstate=22007\)$" "a data error while applying"
unlike "$ERR$(cat "$SP/rejected/fms/d22.xml.reason")" "987654|Failing value|CONTEXT" \
	"a data error: neither the log nor the reason quotes the value"
sql "DROP TRIGGER t_data_error ON checks; DROP FUNCTION t_data_error()" >/dev/null

# 6. text fields go through COPY whatever they hold: TAB, newline and
# backslash (COPY-escaped; TAB and newline then one space each, test 093);
# a date with collapsible whitespace is read as the date
tmpl fms 00000000-0000-4000-8000-0000000000a7
sed '0,/<Status>not_found<\/Status>/s//<Status>invalid<\/Status><Reason>a\&#9;b\&#10;c\\d<\/Reason><InvalidSince> 2021-03-15\&#9;<\/InvalidSince>/' \
	"$T/fms.tmpl" >"$T/text.tmpl"
first=$(grep -o 'CheckId="[0-9]*"' "$T/text.tmpl" | head -1 | tr -dc 0-9)
sign fms "$T/text.tmpl" text.xml
eb import-responses
is "$RC" 0 "TAB, newline, backslash in a Reason: applied"
is "$(sql "SELECT reason = E'a b c\\\\d (с 15.03.2021): укажите данные действующего паспорта' FROM checks WHERE id = $first")" t \
	"TAB, newline, backslash in a Reason: arrived, on one line; the date read"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'fms' AND state = 'sent'")" 0 "every FMS check answered"

done_testing
