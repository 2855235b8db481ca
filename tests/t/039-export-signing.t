#!/usr/bin/env bash
# export-checks signs each packet from its canonical bytes as they are
# written (xmlsig_sign_c14n), not from a re-read tree. These cases would
# break that if the bytes were not exactly what exclusive C14N gives:
# an ECDSA signer (randomised signatures, a different SignatureMethod),
# header values that must be escaped, and packets cut by max_bytes.
# xmlsec1 is the judge.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/export.sh"

export_setup 60
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ec.key" -out "$T/ec.csr" \
	-subj "/CN=ec-signer/O=ESIA" 2>/dev/null
openssl x509 -req -in "$T/ec.csr" -CA "$PKI/esia-ca.pem" -CAkey "$PKI/esia-ca.key" -CAcreateserial \
	-days 30 -out "$T/ec.pem" 2>/dev/null
chmod 600 "$T/ec.key"
sender='ESIA & "Gosuslugi" <test>'
CONFIG_EXTRA="[signer]
key = $T/ec.key
cert = $T/ec.pem
sender = $sender
[pfr]
max_bytes = 6000
recipient = PFR 'branch' 7"
write_config

eb export-checks
is "$RC" 65 "export with an ECDSA signer runs (65: the fixtures hold data the validators refuse)"
unlike "$ERR" "sign|canonical|error" "and reports no signing error"
n=0 bad=0 schema=0 ec=0 big=0
for ag in pfr fms; do
	for f in "$OUTBOX"/$ag/*.xml; do
		n=$((n + 1))
		xmlsec1 --verify --trusted-pem "$PKI/esia-ca.pem" "$f" >/dev/null 2>&1 || bad=$((bad + 1))
		xmllint --noout --schema "$TOP/formats/$ag-request.xsd" "$f" 2>/dev/null || schema=$((schema + 1))
		grep -q 'xmldsig-more#ecdsa-sha256' "$f" && ec=$((ec + 1))
		[ "$(stat -c %s "$f")" -gt 6000 ] && [ $ag = pfr ] && big=$((big + 1))
	done
done
[ "$n" -gt 3 ]
ok $? "several packets written ($n)"
is "$bad" 0 "xmlsec1 verifies every packet against the project CA"
is "$schema" 0 "every packet validates against its XSD"
is "$ec" "$n" "every packet is signed with ECDSA-SHA256"
is "$big" 0 "no PFR packet is over max_bytes = 6000"
f=$(ls "$OUTBOX"/pfr/*.xml | head -1)
is "$(xmllint --xpath 'string(/*/@Sender)' "$f")" "$sender" "the Sender with & \" < comes back as configured"
is "$(xmllint --xpath 'string(/*/@Recipient)' "$f")" "PFR 'branch' 7" "and so does the Recipient"
is "$(xmllint --xpath 'string(/*/@RecordCount)' "$f")" "$(packet_ids "$f" | wc -l)" "RecordCount is the number of records"
check_once pfr PFR
check_once fms FMS

# the signed bytes are the file's: one changed character in a record fails
g=$(ls "$OUTBOX"/fms/*.xml | head -1)
sed 's/<Number>\([0-9]\)/<Number>X/' "$g" >"$T/tampered.xml"
isnt "$(md5sum <"$T/tampered.xml")" "$(md5sum <"$g")" "(the copy was changed)"
xmlsec1 --verify --trusted-pem "$PKI/esia-ca.pem" "$T/tampered.xml" >/dev/null 2>&1
isnt "$?" 0 "a changed record breaks the signature"
done_testing
