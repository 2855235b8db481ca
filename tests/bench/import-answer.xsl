<?xml version="1.0" encoding="UTF-8"?>
<!-- Bench answers (tests/bench/import.sh): every record of a PFR or FMS request
     answered without a registry lookup, so a million answers are quick to
     make: every fail-every-th record fails (mismatch / invalid; default every
     10th, 1 = all), the rest pass. The output is a signature template for
     xmlsec1, as in tests/sim/. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:p="http://kvs.pfr.com/snils-validation/1.0.1"
                xmlns:f="http://fms.gov.ru/passport-validity/1.0.0">
  <xsl:import href="../sim/dsig.xsl"/>
  <xsl:output method="xml" encoding="UTF-8" indent="no"/>
  <xsl:param name="packet-id"/>
  <xsl:param name="created-at"/>
  <xsl:param name="fail-every" select="10"/>

  <xsl:template match="/p:SnilsValidationRequest">
    <p:SnilsValidationResponse PacketId="{$packet-id}" CreatedAt="{$created-at}" Sender="PFR"
                               Recipient="ESIA" RecordCount="{@RecordCount}" InReplyTo="{@PacketId}">
      <xsl:for-each select="p:Record">
        <p:Result CheckId="{@CheckId}">
          <xsl:choose>
            <xsl:when test="position() mod $fail-every = 0">
              <p:Status>mismatch</p:Status><p:Message>ФИО не совпадает</p:Message>
            </xsl:when>
            <xsl:otherwise><p:Status>match</p:Status></xsl:otherwise>
          </xsl:choose>
        </p:Result>
      </xsl:for-each>
      <xsl:call-template name="dsig"/>
    </p:SnilsValidationResponse>
  </xsl:template>

  <xsl:template match="/f:PassportValidityRequest">
    <f:PassportValidityResponse PacketId="{$packet-id}" CreatedAt="{$created-at}" Sender="FMS"
                                Recipient="ESIA" RecordCount="{@RecordCount}" InReplyTo="{@PacketId}">
      <xsl:for-each select="f:Record">
        <f:Result CheckId="{@CheckId}">
          <xsl:choose>
            <xsl:when test="(position() + floor($fail-every div 2)) mod $fail-every = 0">
              <f:Status>invalid</f:Status><f:Reason>Паспорт недействителен: утрачен</f:Reason>
            </xsl:when>
            <xsl:otherwise><f:Status>valid</f:Status></xsl:otherwise>
          </xsl:choose>
        </f:Result>
      </xsl:for-each>
      <xsl:call-template name="dsig"/>
    </f:PassportValidityResponse>
  </xsl:template>
</xsl:stylesheet>
