#!/usr/bin/env bash
# export-checks honours [AGENCY] max_bytes: every signed packet, signature
# and certificate included, fits the limit; packets are cut between records,
# never inside one; every check still goes out exactly once.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/export.sh"

export_setup 40 "[fms]
max_bytes = 5000"

eb export-checks --agency fms
is "$RC" 0 "export succeeds (it used to fail: the certificate in the signature was not counted)"
sizes=$(stat -c %s "$OUTBOX"/fms/*.xml | sort -n)
is "$(echo "$sizes" | awk '$1 > 5000' | wc -l)" 0 "no FMS packet is over max_bytes = 5000 (largest: $(echo "$sizes" | tail -1))"
is "$(echo "$sizes" | awk '$1 > 4000' | wc -l | awk '{print ($1 > 0)}')" 1 "packets are filled close to the limit"
bad=0 schema=0
for f in "$OUTBOX"/fms/*.xml; do
	xmlsec1 --verify --trusted-pem "$PKI/esia-ca.pem" "$f" >/dev/null 2>&1 || bad=$((bad + 1))
	xmllint --noout --schema "$TOP/formats/fms-request.xsd" "$f" 2>/dev/null || schema=$((schema + 1))
done
is "$bad/$schema" "0/0" "each verifies with xmlsec1 and validates against the XSD"
is "$(sql "SELECT max(records) < 1000 AND count(*) > 1 FROM packets WHERE agency = 'fms'")" t \
	"the limit cut the work into several small packets"
is "$(all_packet_ids fms | sort -n | uniq -d | wc -l)" 0 "no check in two packets"
is "$(all_packet_ids fms | sort -n)" "$(sql "SELECT id FROM checks WHERE agency = 'fms' AND state = 'sent' ORDER BY id")" \
	"every sent FMS check is in exactly one file"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'fms' AND state = 'pending'")" 0 "none left pending"
done_testing
