# Fixtures for the archive/audit tests (tests/t/07x): a test PKI, a config
# with the signer and trust anchors, and helpers that create batches, packets
# rows and signed packet files directly (signed by xmlsec1, the independent
# peer), as export-checks, import-responses and print-letters would leave them.
# Source after harness.sh.
P=$T/pki
sh "$TOP/tests/lib/pki.sh" "$P" || bail "cannot make the test PKI"
SP=$T/spool
AR=$SP/archive
CONFIG_EXTRA="[signer]
key = $P/esia-signer.key
cert = $P/esia-signer.pem

[archive]
trust_anchor = $P/esia-ca.pem
older_than = 1d
compression = ${ARCHIVE_COMPRESSION:-xz}

[pfr]
trust_anchor = $P/pfr-ca.pem

[fms]
trust_anchor = $P/fms-ca.pem"
write_config

new_uuid() { cat /proc/sys/kernel/random/uuid; }

new_batch() { # JOB [STATUS] [FINISHED_AGO] -> batch id
	sql "INSERT INTO batches (job, status, started_at, finished_at)
	     VALUES ('$1', '${2:-succeeded}', now() - interval '3 days',
	             CASE WHEN '${2:-succeeded}' <> 'running' THEN now() - interval '${3:-2 days}' END)
	     RETURNING id"
}

_sig_tmpl='<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>'

# signed_packet SIGNER KIND ID OUT [IN_REPLY_TO]; KIND: pfr-request fms-request pfr-response
signed_packet() {
	_attrs="PacketId=\"$3\" CreatedAt=\"2026-11-20T10:00:00+03:00\" RecordCount=\"2\""
	case $2 in
	pfr-request) _body="<SnilsValidationRequest xmlns=\"http://kvs.pfr.com/snils-validation/1.0.1\" $_attrs Sender=\"ESIA\" Recipient=\"PFR\">
  <Record CheckId=\"101\"><FamilyName>Иванов</FamilyName><FirstName>Иван</FirstName><Patronymic>Иванович</Patronymic><Snils>11223344595</Snils><Gender>M</Gender><BirthDate>1980-01-31</BirthDate></Record>
  <Record CheckId=\"102\"><FamilyName>Петрова</FamilyName><FirstName>Анна</FirstName><Snils>11223344595</Snils><Gender>F</Gender><BirthDate>1990-02-28</BirthDate></Record>
$_sig_tmpl</SnilsValidationRequest>" ;;
	fms-request) _body="<PassportValidityRequest xmlns=\"http://fms.gov.ru/passport-validity/1.0.0\" $_attrs Sender=\"ESIA\" Recipient=\"FMS\">
  <Record CheckId=\"201\"><FamilyName>Иванов</FamilyName><FirstName>Иван</FirstName><BirthDate>1980-01-31</BirthDate><Series>4509</Series><Number>123456</Number><IssueDate>2010-05-12</IssueDate><IssuerCode>770-001</IssuerCode></Record>
  <Record CheckId=\"202\"><FamilyName>Петрова</FamilyName><FirstName>Анна</FirstName><BirthDate>1990-02-28</BirthDate><Series>4510</Series><Number>654321</Number><IssueDate>2012-06-01</IssueDate><IssuerCode>770-002</IssuerCode></Record>
$_sig_tmpl</PassportValidityRequest>" ;;
	pfr-response) _body="<SnilsValidationResponse xmlns=\"http://kvs.pfr.com/snils-validation/1.0.1\" $_attrs InReplyTo=\"$5\" Sender=\"PFR\" Recipient=\"ESIA\">
  <Result CheckId=\"101\"><Status>match</Status></Result>
  <Result CheckId=\"102\"><Status>mismatch</Status><Message>ФИО не совпадает</Message></Result>
$_sig_tmpl</SnilsValidationResponse>" ;;
	esac
	printf '<?xml version="1.0" encoding="UTF-8"?>\n%s\n' "$_body" >"$T/tmpl.xml"
	mkdir -p "$(dirname "$4")"
	xmlsec1 --sign --privkey-pem "$P/$1.key,$P/$1.pem" --output "$4" "$T/tmpl.xml" 2>"$T/xmlsec.err" ||
		bail "xmlsec1 cannot sign: $(cat "$T/xmlsec.err")"
	chmod 0600 "$4"
}

_packet_row() { # ID DIRECTION AGENCY BATCH FILE_PATH STATUS [IN_REPLY_TO]
	_sha=$(sha256sum "$5" | cut -d' ' -f1)
	_bytes=$(stat -c %s "$5")
	_irt=${7:+"'$7'"}
	_ids=NULL
	[ "$2" = request ] && _ids="'{}'"
	sql "INSERT INTO packets (id, direction, agency, batch_id, file_name, sha256, records, bytes, status, in_reply_to, check_ids)
	     VALUES ('$1', '$2', '$3', $4, '$(basename "$5")', '$_sha', 2, $_bytes, '$6', ${_irt:-NULL}, $_ids)" >/dev/null
}

request() { # BATCH AGENCY -> packet id (outbox/AGENCY/ID.xml + packets row)
	_id=$(new_uuid)
	signed_packet esia-signer "$2-request" "$_id" "$SP/outbox/$2/$_id.xml"
	_packet_row "$_id" request "$2" "$1" "$SP/outbox/$2/$_id.xml" written
	echo "$_id"
}

response() { # BATCH REQUEST_ID -> packet id (processed/pfr/answer-ID.xml + row)
	_id=$(new_uuid)
	signed_packet pfr-signer pfr-response "$_id" "$SP/processed/pfr/answer-$_id.xml" "$2"
	_packet_row "$_id" response pfr "$1" "$SP/processed/pfr/answer-$_id.xml" applied "$2"
	echo "$_id"
}

rejected_response() { # BATCH REQUEST_ID -> id (rejected/pfr/..., .reason, row), signed by a foreign CA
	_id=$(new_uuid)
	signed_packet foreign-signer pfr-response "$_id" "$SP/rejected/pfr/bad-$_id.xml" "$2"
	# the .reason as import-responses writes it: line 3 names the batch
	printf 'untrusted signer\nfile: bad-%s.xml\nbatch: %s\n' "$_id" "$1" >"$SP/rejected/pfr/bad-$_id.xml.reason"
	_packet_row "$_id" response pfr "$1" "$SP/rejected/pfr/bad-$_id.xml" rejected
	echo "$_id"
}

print_files() { # BATCH: print/BATCH/{letters.pdf,orders.json,f103/f103.csv}
	mkdir -p "$SP/print/$1/f103"
	head -c 20000 /dev/urandom >"$SP/print/$1/letters.pdf"
	printf '[{"order-num":"1","barcode":"80093053624992"}]\n' >"$SP/print/$1/orders.json"
	printf '1;Иванов И.И.;101000 Москва;80093053624992;20\n' >"$SP/print/$1/f103/f103.csv"
}

# The archive of a batch (path), by the layout archive/YYYY/MM/<batch>.tar.*
archive_of() { find "$AR" -name "$1.tar.*" ! -name '.*' | head -1; }
