#!/usr/bin/env bash
# import-responses refuses hostile packets (XML, size and signature cases, a
# signer other than [pfr] signer_subject; the signed-but-wrong ones are in
# 045): each one leaves the database byte-for-byte unchanged (pg_dump of every
# table but the ledger: batches, job_runs), lands in rejected/AGENCY/ with NAME.reason, is counted
# on the batch, exit 65.
CONFIG_EXTRA="[pfr]
max_response_bytes = 200000"
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/sim/testlib.sh"
# testlib puts its own [pfr] section first; the limit above still applies
grep -q "max_response_bytes = 200000" "$T/esia-batch.conf" || bail "config"

hostile_setup

printf '<SnilsValidationResponse xmlns="http://kvs.pfr.com/snils-validation/1.0.1"><Result>' | put pfr broken.xml
expect broken.xml pfr "^unsafe or malformed XML" "malformed XML"

# a different file under a name already in rejected/ is kept beside it, never over it
cp "$SP/rejected/pfr/broken.xml" "$T/broken.first"
printf '<Nope>' | put pfr broken.xml
expect broken.2.xml pfr "^unsafe or malformed XML" "a second, different broken.xml"
cmp -s "$T/broken.first" "$SP/rejected/pfr/broken.xml"
ok $? "the first broken.xml is kept as it was"
is "$(sql "SELECT params->'rejected'->0->>'file' FROM batches WHERE job = 'import-responses' ORDER BY id DESC LIMIT 1")" broken.2.xml "the batch lists it under the name it got"
# the same bytes again: kept once
cp "$T/broken.first" "$SP/inbox/pfr/broken.xml"
expect broken.xml pfr "^unsafe or malformed XML" "the first broken.xml again"
is "$(ls "$SP/rejected/pfr" | grep -c '^broken')" 4 "two files and their reasons, nothing more"

put pfr laughs.xml <<'X'
<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<SnilsValidationResponse xmlns="http://kvs.pfr.com/snils-validation/1.0.1">&lol9;</SnilsValidationResponse>
X
expect laughs.xml pfr "^unsafe or malformed XML" "billion laughs"
like "$(head -1 "$SP/rejected/pfr/laughs.xml.reason")" "DTD" "billion laughs: the DTD is named as the cause"

echo "secret-$$" >"$T/secret.txt"
put pfr xxe.xml <<X
<?xml version="1.0"?>
<!DOCTYPE r [ <!ENTITY x SYSTEM "file://$T/secret.txt"> ]>
<SnilsValidationResponse xmlns="http://kvs.pfr.com/snils-validation/1.0.1" PacketId="00000000-0000-4000-8000-000000000001" CreatedAt="2026-01-01T00:00:00Z" Sender="PFR" Recipient="ESIA" RecordCount="1" InReplyTo="$PFR_REQ"><Result CheckId="1"><Status>match</Status><Message>&x;</Message></Result></SnilsValidationResponse>
X
expect xxe.xml pfr "^unsafe or malformed XML" "external entity (XXE)"
unlike "$(cat "$SP/rejected/pfr/xxe.xml.reason") $ERR" "secret-$$" "XXE: the local file was never read into the output"

# a genuinely signed answer, padded past the limit with a trailing comment
# (outside the exclusive-c14n signature, so only the size is wrong)
f=$(fresh pfr)
{ cat "$f"; printf '<!--'; head -c 210000 /dev/zero | tr '\0' x; printf -- '-->'; } >"$T/big" && mv "$T/big" "$f"
xmlsec1 --verify --trusted-pem "$T/pki/pfr-ca.pem" "$f" >/dev/null 2>&1
ok $? "oversize: xmlsec1 still accepts the padded packet's signature"
expect "$(basename "$f")" pfr "^oversize: [0-9]+ bytes, limit 200000" "oversize packet"

f=$(fresh pfr badsig)
xmlsec1 --verify --trusted-pem "$T/pki/pfr-ca.pem" "$f" >/dev/null 2>&1
isnt $? 0 "bad signature: xmlsec1 refuses it too"
expect "$(basename "$f")" pfr "^signature refused: document changed after signing" "bad signature"

f=$(fresh pfr foreign)
expect "$(basename "$f")" pfr "^signature refused" "signed under a foreign CA"
like "$(head -1 "$SP/rejected/pfr/$(basename "$f").reason")" "untrusted signer" "foreign CA: named as an untrusted signer"

f=$(fresh pfr expired)
expect "$(basename "$f")" pfr "^signature refused" "expired signer certificate"
like "$(head -1 "$SP/rejected/pfr/$(basename "$f").reason")" "certificate expired" "expired: named in the details"

# [pfr] signer_subject pins the signer's whole subject (RFC 2253, as openssl
# prints it with -nameopt RFC2253,-esc_msb): a valid signer under the right CA
# and O= with another subject is refused
base_config=$CONFIG_EXTRA
CONFIG_EXTRA="$base_config
[pfr]
signer_subject = O=PFR,CN=pfr-signer2"
write_config
f=$(fresh pfr)
expect "$(basename "$f")" pfr '^signature refused: signer subject is "O=PFR,CN=pfr-signer", expected "O=PFR,CN=pfr-signer2"$' \
	"a signer whose subject is not [pfr] signer_subject"
subj=$(openssl x509 -in "$T/pki/pfr-signer.pem" -noout -subject -nameopt RFC2253,-esc_msb | sed 's/^subject=//')
CONFIG_EXTRA="$base_config
[pfr]
signer_subject = $subj"
write_config

# the genuine answers apply with the subject openssl printed for their signer
hostile_finish 10
done_testing
