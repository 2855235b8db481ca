#!/usr/bin/env bash
# The agency's own words in a signed, schema-valid answer (PFR Message, FMS
# Reason) reach checks.reason, the citizen's accounts.data_reject_reason and
# the check_failed notices' payload (and from there the e-mail): each run of
# whitespace or control characters in them (tab, LF, CR, NEL, DEL,
# U+2028/2029, no-break space, ...) is one space, none at either end, and
# text that is only such characters is no text (an FMS "invalid" without a
# Reason refuses the packet). Everything else is kept: backslashes,
# Cyrillic, characters beyond the BMP, and the 500 characters the XSDs
# allow are counted as the agency sent them.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/sim/testlib.sh"

hostile_setup

# set_result FILE CHECKID XML: the Result for CHECKID in the answer FILE
# gets XML (Status and the rest, character references allowed) as content
set_result() {
	ID=$2 X=$3 perl -pi -e 's{<Result CheckId="$ENV{ID}">.*?</Result>}{<Result CheckId="$ENV{ID}">$ENV{X}</Result>}' "$1"
	grep -qF "<Result CheckId=\"$2\">$3</Result>" "$1" || bail "no Result for CheckId $2"
}
# checks_of AGENCY [CHECKS]: the agency's checks of citizens with both an
# e-mail and a phone, none of them a citizen of CHECKS (a list of ids)
checks_of() {
	sql "SELECT c.id FROM checks c JOIN accounts a ON a.id = c.account_id WHERE c.agency = '$1'
		AND a.email IS NOT NULL AND a.phone IS NOT NULL
		AND a.id NOT IN (SELECT account_id FROM checks WHERE id IN (${2:-0})) ORDER BY c.id" | tr '\n' ' '
}
reason() { sql "SELECT reason FROM checks WHERE id = $1"; }
rejected() { sql "SELECT a.data_reject_reason FROM accounts a JOIN checks c ON c.account_id = a.id WHERE c.id = $1"; }
# the reasons of check $1's check_failed notices, one line per channel
notice_reasons() {
	sql "SELECT channel || ':' || (payload->>'reason') FROM notifications WHERE event = 'check_failed'
		AND payload->>'check' = '$1' ORDER BY channel"
}
# "x $DIRTY" in SQL: x holds whitespace other than single spaces between words
DIRTY="~ E'[\\\\x01-\\\\x1f\\\\x7f-\\\\u00a0\\\\u1680\\\\u2000-\\\\u200b\\\\u2028\\\\u2029\\\\u202f\\\\u205f\\\\u3000\\\\ufeff]|  |^ | \$'"

MISMATCH='Данные не совпадают с данными ПФР: проверьте фамилию, имя, отчество, пол и дату рождения'
PFR_NF='СНИЛС не найден в ПФР: проверьте номер СНИЛС'
# LF, space, TAB, NEL, two spaces, U+2028, no-break space, CR LF, DEL,
# U+2029, a trailing TAB and space; a backslash, Cyrillic and U+1F600 kept
HOSTILE='&#10; line1&#10;&#9;line2&#133;  x&#8232;y&#160;z&#13;&#10;\d&#127;e&#8233;ё&#128512;&#9; '
ONE_LINE='line1 line2 x y z \d e ё😀'
read -r P1 P2 P3 P4 P5 _ <<<"$(checks_of pfr)"
[ -n "$P5" ] || bail "fewer than five PFR checks of citizens with e-mail and phone"

# 1. PFR: the hostile Message; the same words sent clean; a Message of
# only whitespace and controls; 500 characters as sent (498 of them LF)
tmpl pfr 00000000-0000-4000-8000-0000000000c1
set_result "$T/pfr.tmpl" "$P1" "<Status>mismatch</Status><Message>$HOSTILE</Message>"
set_result "$T/pfr.tmpl" "$P2" "<Status>mismatch</Status><Message>line1 line2 x y z \\d e ё&#128512;</Message>"
set_result "$T/pfr.tmpl" "$P3" '<Status>mismatch</Status><Message>&#10;&#9; &#160;&#8232;&#133;&#13;</Message>'
LFS=$(printf '&#10;%.0s' $(seq 498))
set_result "$T/pfr.tmpl" "$P4" "<Status>mismatch</Status><Message>a${LFS}b</Message>"
# and 501 such characters: the XSD's limit, refused before anything is read
cp "$T/pfr.tmpl" "$T/pfr501.tmpl"
sed -i 's/0000000000c1/0000000000c0/' "$T/pfr501.tmpl"
set_result "$T/pfr501.tmpl" "$P5" "<Status>mismatch</Status><Message>a${LFS}&#10;b</Message>"
sign pfr "$T/pfr501.tmpl" long.xml
xmlsec1 --verify --trusted-pem "$T/pki/pfr-ca.pem" "$SP/inbox/pfr/long.xml" >/dev/null 2>&1
ok $? "501 characters: the packet is properly signed"
expect long.xml pfr "^does not match pfr-response.xsd: .*Message.*length" "a Message of 501 characters, 499 of them LF"

sign pfr "$T/pfr.tmpl" text.xml
xmlsec1 --verify --trusted-pem "$T/pki/pfr-ca.pem" "$SP/inbox/pfr/text.xml" >/dev/null 2>&1
ok $? "PFR: the packet is properly signed"
eb import-responses
is "$RC" 0 "PFR: applied"
is "$(reason "$P1")" "$MISMATCH ($ONE_LINE)" "PFR: checks.reason holds the Message on one line"
is "$(reason "$P2")" "$(reason "$P1")" "PFR: the same as the same words sent clean"
is "$(reason "$P3")" "$MISMATCH" "PFR: a Message of only whitespace and controls is no Message"
is "$(reason "$P4")" "$MISMATCH (a b)" "PFR: 500 characters as sent are within the limit"
is "$(rejected "$P1")" "$MISMATCH ($ONE_LINE)" "PFR: accounts.data_reject_reason the same"
is "$(rejected "$P3")" "$MISMATCH" "PFR: data_reject_reason without that Message"
is "$(notice_reasons "$P1")" "email:$MISMATCH ($ONE_LINE)
sms:$MISMATCH ($ONE_LINE)" "PFR: the notices' payload the same"
is "$(sql "SELECT string_agg(DISTINCT state || '/' || result, ' ') FROM checks WHERE id IN ($P1, $P2, $P3, $P4)")" \
	"failed/mismatch" "PFR: those checks failed as mismatch"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND id NOT IN ($P1, $P2, $P3, $P4)
	AND (state, result, reason) IS DISTINCT FROM ('failed', 'not_found', '$PFR_NF')")" 0 \
	"PFR: every other check failed as not_found with its usual reason"

# 2. FMS: an invalid passport whose Reason is only whitespace and controls
# is one without a Reason: the packet is refused and changes nothing
read -r F1 F2 _ <<<"$(checks_of fms "$P1, $P2, $P3, $P4")"
[ -n "$F2" ] || bail "fewer than two FMS checks of other citizens with e-mail and phone"
tmpl fms 00000000-0000-4000-8000-0000000000c2
set_result "$T/fms.tmpl" "$F2" '<Status>invalid</Status><Reason>&#9; &#133;&#160;&#8233;</Reason><InvalidSince>2021-03-15</InvalidSince>'
sign fms "$T/fms.tmpl" blank.xml
expect blank.xml fms "^result for CheckId $F2 is invalid without a Reason$" "an invalid passport, its Reason only whitespace"
# as is one without a Reason at all
tmpl fms 00000000-0000-4000-8000-0000000000c4
set_result "$T/fms.tmpl" "$F2" '<Status>invalid</Status><InvalidSince>2021-03-15</InvalidSince>'
sign fms "$T/fms.tmpl" none.xml
expect none.xml fms "^result for CheckId $F2 is invalid without a Reason$" "an invalid passport without a Reason"

# 3. FMS: the Reason on one line, before the date and the advice
tmpl fms 00000000-0000-4000-8000-0000000000c3
set_result "$T/fms.tmpl" "$F1" '<Status>invalid</Status><Reason>&#9;утрачен&#10;&#10;  (кража)&#8232;</Reason><InvalidSince>2021-03-15</InvalidSince>'
sign fms "$T/fms.tmpl" reason.xml
eb import-responses
is "$RC" 0 "FMS: applied"
FMS_R='утрачен (кража) (с 15.03.2021): укажите данные действующего паспорта'
is "$(reason "$F1")" "$FMS_R" "FMS: checks.reason holds the Reason on one line"
is "$(rejected "$F1")" "$PFR_NF; $FMS_R" "FMS: added to accounts.data_reject_reason as it is"
is "$(notice_reasons "$F1")" "email:$FMS_R
sms:$FMS_R" "FMS: the notices' payload the same"

# nowhere a reason the citizen or an operator reads spans lines or runs of spaces
is "$(sql "SELECT (SELECT count(*) FROM checks WHERE reason $DIRTY)
	+ (SELECT count(*) FROM accounts WHERE data_reject_reason $DIRTY)
	+ (SELECT count(*) FROM notifications WHERE payload->>'reason' $DIRTY)")" 0 \
	"no reason anywhere holds a control character, a line break or a run of spaces"
is "$(sql "SELECT count(*) FROM notifications n JOIN checks c ON c.id = (n.payload->>'check')::bigint
	WHERE n.event = 'check_failed' AND n.payload->>'reason' IS DISTINCT FROM c.reason")" 0 \
	"every check_failed notice carries its check's reason"
is "$(sql "SELECT count(*) FROM checks WHERE state IN ('sent', 'pending')")" 0 "every check answered"

done_testing
