#!/usr/bin/env bash
# The whole check round trip with real parts: export-checks writes and signs
# the requests, the simulated agencies (xsltproc + xmlsec1) answer them from
# the fixture registries, import-responses applies the answers.
. "$(dirname "$0")/../lib/harness.sh"
CONFIG_EXTRA="[signer]
key = $T/pki/esia-signer.key
cert = $T/pki/esia-signer.pem"
. "$TOP/tests/sim/testlib.sh"

load 50 11
eb export-checks
ok "$([ "$RC" = 0 ] || [ "$RC" = 65 ]; echo $?)" "export-checks writes the requests (exit $RC)"
req=$(ls "$SP/outbox/pfr/"*.xml | head -1)
xmlsec1 --verify --trusted-pem "$T/pki/esia-ca.pem" "$req" >/dev/null 2>&1
ok $? "the requests are signed by the project (xmlsec1 agrees)"
answer pfr >/dev/null
answer fms >/dev/null
for f in "$SP"/inbox/*/*.xml; do
	ag=$(basename "$(dirname "$f")")
	xmllint --noout --schema "$TOP/formats/$ag-response.xsd" "$f" 2>/dev/null || echo "$f" 
done >"$T/invalid"
is "$(cat "$T/invalid")" "" "every simulated answer matches its response XSD"

eb import-responses
is "$RC" 0 "import-responses applies every answer"
# local refusals (bad SNILS, mixed-script names) never left; the agencies
# confirm the rest unless the fixture made them fail there
awk -F, '$2 == "ok" || $2 == "bad_address" { print $1 }' "$T/reg/fates.csv" >"$T/want"
sql "SELECT id FROM accounts WHERE level = 'standard' ORDER BY id" >"$T/got"
is "$(diff "$T/want" "$T/got" && echo same)" same "exactly the citizens both agencies confirmed are standard"
is "$(sql "SELECT count(*) FROM checks WHERE state = 'sent'")" 0 "no check left waiting"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'request' AND status <> 'answered'")" 0 "every request answered"
is "$(sql "SELECT count(*) FROM accounts a WHERE data_status = 'rejected' AND data_reject_reason IS NULL")" 0 "every rejection has a reason"
done_testing
