#!/usr/bin/env bash
# import-responses refuses signed-but-wrong packets (signature wrapping, unknown
# request or record, a CheckId twice, wrong agency; XML and signature cases are
# in 041): each leaves the database byte-for-byte unchanged (pg_dump of every
# table but the ledger: batches, job_runs), lands in rejected/AGENCY/ with
# NAME.reason, exit 65.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/sim/testlib.sh"

hostile_setup

# signature wrapping 1: the signed original moved into ds:Object under a forged
# root whose results say something else (the signature is kept, last child)
f=$(fresh pfr)
xsltproc - "$f" >"$T/wrapped" <<'XSL'
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:p="http://kvs.pfr.com/snils-validation/1.0.1" xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
  <xsl:template match="/p:SnilsValidationResponse">
    <xsl:copy>
      <xsl:copy-of select="@*"/>
      <xsl:for-each select="p:Result">
        <p:Result CheckId="{@CheckId}"><p:Status>match</p:Status></p:Result>
      </xsl:for-each>
      <xsl:for-each select="ds:Signature">
        <xsl:copy><xsl:copy-of select="@*|node()"/>
          <ds:Object><xsl:copy-of select="/p:SnilsValidationResponse"/></ds:Object>
        </xsl:copy>
      </xsl:for-each>
    </xsl:copy>
  </xsl:template>
</xsl:stylesheet>
XSL
mv "$T/wrapped" "$f"
xmllint --noout --schema "$TOP/formats/pfr-response.xsd" "$f" 2>/dev/null
ok $? "wrapping: the forged packet is schema-valid"
expect "$(basename "$f")" pfr "^signature refused" "signature wrapping (original moved under ds:Object)"

# signature wrapping 2: the valid signed packet moved under a new root
f=$(fresh pfr)
{ echo '<Envelope xmlns="urn:x">'; sed 1d "$f"; echo '</Envelope>'; } >"$T/w2" && mv "$T/w2" "$f"
expect "$(basename "$f")" pfr "^not a response packet" "signature wrapping (packet under a new root)"

f=$(fresh pfr wrong-request)
expect "$(basename "$f")" pfr "^answers no PFR request of ours" "answer to an unknown request"

f=$(fresh pfr unknown-record)
expect "$(basename "$f")" pfr "^1 record\(s\) not in request $PFR_REQ" "a record id not in the request"
like "$(cat "$SP/rejected/pfr/$(basename "$f").reason")" "first unknown CheckId: 9000000000001" \
	"a record id not in the request: the reason names it"

# a check sent again in another request since (here: moved to the FMS request
# by hand) is no longer this request's to answer
FMS_REQ=$(basename "$(ls "$SP/outbox/fms"/*.xml)" .xml)
moved=$(sql "SELECT min(id) FROM checks WHERE packet_id = '$PFR_REQ'")
sql "UPDATE checks SET packet_id = '$FMS_REQ' WHERE id = $moved" >/dev/null
f=$(fresh pfr)
expect "$(basename "$f")" pfr "^1 record\(s\) no longer in request $PFR_REQ" "a record sent again since"
like "$(cat "$SP/rejected/pfr/$(basename "$f").reason")" "first such CheckId: $moved\b" \
	"a record sent again since: the reason names it"
sql "UPDATE checks SET packet_id = '$PFR_REQ' WHERE id = $moved" >/dev/null

# a genuinely signed answer that answers one CheckId twice (RecordCount fits)
echo '<r/>' >"$T/empty-reg.xml"
xsltproc --stringparam registry "$T/empty-reg.xml" --stringparam packet-id 00000000-0000-4000-8000-0000000000d2 \
	--stringparam created-at 2026-01-01T00:00:00Z "$SIM/pfr.xsl" "$SP/outbox/pfr/$PFR_REQ.xml" >"$T/one.tmpl"
xsltproc - "$T/one.tmpl" >"$T/dup.tmpl" <<'XSL'
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:p="http://kvs.pfr.com/snils-validation/1.0.1">
  <xsl:template match="@*|node()"><xsl:copy><xsl:apply-templates select="@*|node()"/></xsl:copy></xsl:template>
  <xsl:template match="@RecordCount"><xsl:attribute name="RecordCount"><xsl:value-of select=". + 1"/></xsl:attribute></xsl:template>
  <xsl:template match="p:Result[1]"><xsl:copy-of select="."/><xsl:copy-of select="."/></xsl:template>
</xsl:stylesheet>
XSL
xmlsec1 --sign --privkey-pem "$T/pki/pfr-signer.key,$T/pki/pfr-signer.pem" --output "$SP/inbox/pfr/dup.xml" "$T/dup.tmpl" 2>/dev/null
xmlsec1 --verify --trusted-pem "$T/pki/pfr-ca.pem" "$SP/inbox/pfr/dup.xml" >/dev/null 2>&1
ok $? "duplicate CheckId: the packet is properly signed"
expect dup.xml pfr "^does not match pfr-response.xsd: .*[Dd]uplicate" "a CheckId answered twice"

f=$(fresh fms)
mv "$f" "$SP/inbox/pfr/"
expect "$(basename "$f")" pfr "^wrong agency: a FMS packet in the PFR folder" "an FMS answer in the PFR inbox"

hostile_finish 7
done_testing
