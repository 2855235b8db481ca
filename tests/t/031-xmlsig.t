#!/usr/bin/env bash
# jobs/lib/xmlsig against xmlsec1 as the independent peer: our signatures
# verify with `xmlsec1 --verify --trusted-pem`, xmlsec1's verify with ours, and
# our verifier refuses expired, foreign, wrong-organisation, tampered, wrapped
# and doubled signatures with a reason naming what failed.
. "$(dirname "$0")/../lib/harness.sh"
XT=$(dirname "$EB")/tools/xmlsig-tool
[ -x "$XT" ] || XT=$TOP/build/asan/tools/xmlsig-tool
P=$T/pki
sh "$TOP/tests/lib/pki.sh" "$P" || bail "pki"
NS=http://kvs.pfr.com/snils-validation/1.0.1

doc() { # FILE [SIGNATURE-TEMPLATE]
	printf '<?xml version="1.0" encoding="UTF-8"?>\n<SnilsValidationRequest xmlns="%s" PacketId="0a1b2c3d-0000-4000-8000-000000000001" CreatedAt="2026-11-23T02:00:00Z" Sender="ESIA" Recipient="PFR" RecordCount="1"><Record CheckId="123"%s><FamilyName>Иванов</FamilyName><FirstName>Иван</FirstName><Snils>11223344595</Snils><Gender>M</Gender><BirthDate>1980-01-31</BirthDate></Record>%s</SnilsValidationRequest>\n' "$NS" "${3:-}" "${2:-}" >"$1"
}
tmpl() { # URI [EXTRA-TRANSFORM]
	printf '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><Reference URI="%s"><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>%s<Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo><X509Data><X509Certificate/></X509Data></KeyInfo></Signature>' "$1" "${2:-}"
}
peer_sign() { # SIGNER TEMPLATE-DOC OUT
	xmlsec1 --sign --privkey-pem "$P/$1.key,$P/$1.pem" --id-attr:Id Record --output "$3" "$2" 2>"$T/xmlsec.err"
}
verify() { "$XT" verify "$@" 2>&1; }

# 1. ours -> xmlsec1
doc "$T/plain.xml"
"$XT" sign "$P/esia-signer.key" "$P/esia-signer.pem" "$T/plain.xml" "$T/ours.xml"
is "$?" 0 "we sign a packet"
xmlsec1 --verify --trusted-pem "$P/esia-ca.pem" "$T/ours.xml" >/dev/null 2>&1
is "$?" 0 "xmlsec1 verifies our signature against the project CA"
xmlsec1 --verify --trusted-pem "$P/foreign-ca.pem" "$T/ours.xml" >/dev/null 2>&1
isnt "$?" 0 "and refuses it against a foreign CA (the peer is not a rubber stamp)"
xmllint --noout --schema "$TOP/formats/pfr-request.xsd" "$T/ours.xml" 2>/dev/null
is "$?" 0 "the signed packet validates against pfr-request.xsd"
is "$(xmllint --xpath 'count(/*/*[local-name()="Signature"]/following-sibling::*)' "$T/ours.xml")" 0 \
	"the signature is the last child of the root"
like "$(cat "$T/ours.xml")" 'Reference URI=""' "one reference to the whole document"
like "$(cat "$T/ours.xml")" 'rsa-sha256' "RSA-SHA256 for an RSA key"
is "$(verify "$P/esia-ca.pem" ESIA "$T/ours.xml")" valid "we verify our own signature"
"$XT" sign "$P/esia-signer.key" "$P/esia-signer.pem" "$T/ours.xml" "$T/twice.xml" 2>"$T/twice.err"
isnt "$?" 0 "signing an already signed document is refused"

# EC key
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ec.key" -out "$T/ec.csr" \
	-subj "/CN=ec-signer/O=ESIA" 2>/dev/null
openssl x509 -req -in "$T/ec.csr" -CA "$P/esia-ca.pem" -CAkey "$P/esia-ca.key" -CAcreateserial \
	-days 30 -out "$T/ec.pem" 2>/dev/null
"$XT" sign "$T/ec.key" "$T/ec.pem" "$T/plain.xml" "$T/ec.xml"
is "$?" 0 "we sign with an EC key"
like "$(cat "$T/ec.xml")" 'ecdsa-sha256' "as ECDSA-SHA256"
xmlsec1 --verify --trusted-pem "$P/esia-ca.pem" "$T/ec.xml" >/dev/null 2>&1
is "$?" 0 "xmlsec1 verifies the ECDSA signature"
is "$(verify "$P/esia-ca.pem" ESIA "$T/ec.xml")" valid "and so do we"
"$XT" sign "$P/pfr-signer.key" "$T/ec.pem" "$T/plain.xml" "$T/mismatch.xml" 2>"$T/mm.err"
isnt "$?" 0 "a key that does not match the certificate is refused"
like "$(cat "$T/mm.err")" "does not match" "with a reason"

# 2. xmlsec1 -> ours
doc "$T/t-good.xml" "$(tmpl "")"
peer_sign pfr-signer "$T/t-good.xml" "$T/peer.xml" || diag "$(cat "$T/xmlsec.err")"
is "$(verify "$P/pfr-ca.pem" PFR "$T/peer.xml")" valid "a packet signed by xmlsec1 verifies with ours"
like "$(verify "$P/fms-ca.pem" PFR "$T/peer.xml")" "^untrusted signer" "another agency's CA does not anchor it"
like "$(verify "$P/pfr-ca.pem" FMS "$T/peer.xml")" "^signer organisation is PFR, expected FMS" "the subject O= is pinned"

# [AGENCY] signer_subject: the whole subject as `openssl x509 -noout -subject
# -nameopt RFC2253,-esc_msb` prints it (README), compared exactly
subject() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253,-esc_msb | sed 's/^subject=//'; }
vsubj() { "$XT" verify "$P/pfr-ca.pem" PFR "$1" 0 "$2" 2>&1; }
is "$(subject "$P/pfr-signer.pem")" "O=PFR,CN=pfr-signer" "(openssl names the signer in RFC 2253 order)"
is "$(vsubj "$T/peer.xml" "$(subject "$P/pfr-signer.pem")")" valid "the signer's exact subject is accepted"
is "$(vsubj "$T/peer.xml" "O=PFR,CN=pfr-signer2")" 'signer subject is "O=PFR,CN=pfr-signer", expected "O=PFR,CN=pfr-signer2"' \
	"another subject is refused, naming both"
like "$(vsubj "$T/peer.xml" "O=PFR")" "^signer subject is" "a part of the subject is not enough"
like "$(vsubj "$T/peer.xml" "CN=pfr-signer,O=PFR")" "^signer subject is" "nor the same names in another order"
# a Russian subject (as real agency certificates have) reads as UTF-8, not \XX escapes
openssl req -newkey rsa:2048 -nodes -keyout "$T/ru.key" -out "$T/ru.csr" -utf8 \
	-subj "/CN=Отделение СФР по г. Москве, ИТ/O=PFR" 2>/dev/null
openssl x509 -req -in "$T/ru.csr" -CA "$P/pfr-ca.pem" -CAkey "$P/pfr-ca.key" -CAcreateserial \
	-days 30 -out "$T/ru.pem" 2>/dev/null
xmlsec1 --sign --privkey-pem "$T/ru.key,$T/ru.pem" --output "$T/ru.xml" "$T/t-good.xml" 2>"$T/xmlsec.err" ||
	diag "$(cat "$T/xmlsec.err")"
is "$(subject "$T/ru.pem")" 'O=PFR,CN=Отделение СФР по г. Москве\, ИТ' "(openssl prints the Russian subject as UTF-8)"
is "$(vsubj "$T/ru.xml" "$(subject "$T/ru.pem")")" valid "a Russian subject copied from openssl's output is accepted"
like "$(vsubj "$T/ru.xml" "O=PFR,CN=Отделение СФР по г. Москве, ИТ")" '^signer subject is "O=PFR,CN=Отделение СФР по г. Москве\\, ИТ"' \
	"and RFC 2253 escaping is part of it"

peer_sign pfr-expired "$T/t-good.xml" "$T/expired.xml" || diag "$(cat "$T/xmlsec.err")"
like "$(verify "$P/pfr-ca.pem" PFR "$T/expired.xml")" "^certificate expired" "an expired certificate is refused"
# judged as of a time inside its validity (mid-2019), as audit does for archives
is "$("$XT" verify "$P/pfr-ca.pem" PFR "$T/expired.xml" 1561939200 2>&1)" valid "valid as of a time when the certificate was"
like "$("$XT" verify "$P/pfr-ca.pem" PFR "$T/expired.xml" 1104537600 2>&1)" "^certificate not yet valid" "and not before it was issued"
peer_sign foreign-signer "$T/t-good.xml" "$T/foreign.xml" || diag "$(cat "$T/xmlsec.err")"
like "$(verify "$P/pfr-ca.pem" PFR "$T/foreign.xml")" "^untrusted signer" "a foreign certificate is refused"

sed 's/Иванов/Петров/' "$T/peer.xml" >"$T/tampered.xml"
like "$(verify "$P/pfr-ca.pem" PFR "$T/tampered.xml")" "digest mismatch" "a changed record is caught"
perl -0pe 's/(<SignatureValue>)(.)(.)/$1 . ($2 eq "A" ? "B" : "A") . $3/e' "$T/peer.xml" >"$T/badsig.xml"
like "$(verify "$P/pfr-ca.pem" PFR "$T/badsig.xml")" "^signature value invalid" "a changed signature value is caught"

# wrapping: a valid signature over one Record only, not the root
doc "$T/t-wrap.xml" "$(tmpl "#r1")" " Id=\"r1\""
peer_sign pfr-signer "$T/t-wrap.xml" "$T/wrap.xml" || diag "$(cat "$T/xmlsec.err")"
xmlsec1 --verify --trusted-pem "$P/pfr-ca.pem" --id-attr:Id Record "$T/wrap.xml" >/dev/null 2>&1
is "$?" 0 "(xmlsec1 itself accepts the partial signature)"
is "$(verify "$P/pfr-ca.pem" PFR "$T/wrap.xml")" "signature does not cover the document root" "we refuse a signature that does not cover the root"

# a transform outside the profile
doc "$T/t-xpath.xml" "$(tmpl "" '<Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><XPath>1</XPath></Transform>')"
peer_sign pfr-signer "$T/t-xpath.xml" "$T/xpath.xml" || diag "$(cat "$T/xmlsec.err")"
like "$(verify "$P/pfr-ca.pem" PFR "$T/xpath.xml")" "^transform not allowed" "an XPath transform is refused"

# placement and count
perl -0pe 's/(<Record .*<\/Record>)(<Signature .*<\/Signature>)/$2$1/s' "$T/peer.xml" >"$T/first.xml"
like "$(verify "$P/pfr-ca.pem" PFR "$T/first.xml")" "not the last child" "a signature before the records is refused"
perl -0pe 's/(<Signature .*<\/Signature>)/$1$1/s' "$T/peer.xml" >"$T/two.xml"
is "$(verify "$P/pfr-ca.pem" PFR "$T/two.xml")" "more than one signature" "two signatures are refused"
perl -0pe 's/(<Record [^>]*>)(.*<\/Record>)(<Signature .*<\/Signature>)/$1$3$2/s' "$T/peer.xml" >"$T/nested.xml"
like "$(verify "$P/pfr-ca.pem" PFR "$T/nested.xml")" "not a child of the document root" "a signature inside a record is refused"
is "$(verify "$P/pfr-ca.pem" PFR "$T/plain.xml")" "no signature" "an unsigned packet is refused"
done_testing
