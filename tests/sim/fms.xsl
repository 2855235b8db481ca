<?xml version="1.0" encoding="UTF-8"?>
<!-- Agency simulator, FMS: a passport-validity request packet in, an UNSIGNED
     response packet with an XML-DSig template out (xmlsec1 signs it).
     Params: registry (file: <r><p k="SERIESNUMBER" st="valid|invalid" r="" d=""/>...</r>),
     packet-id, created-at, reply-to, extra-record (see pfr.xsl). -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:q="http://fms.gov.ru/passport-validity/1.0.0"
                xmlns="http://fms.gov.ru/passport-validity/1.0.0"
                exclude-result-prefixes="q">
  <xsl:import href="dsig.xsl"/>
  <xsl:output method="xml" encoding="UTF-8" indent="no"/>
  <xsl:param name="registry"/>
  <xsl:param name="packet-id"/>
  <xsl:param name="created-at"/>
  <xsl:param name="reply-to" select="/q:PassportValidityRequest/@PacketId"/>
  <xsl:param name="extra-record" select="''"/>
  <xsl:key name="passport" match="p" use="@k"/>
  <xsl:variable name="reg" select="document($registry)"/>

  <xsl:template match="/q:PassportValidityRequest">
    <PassportValidityResponse PacketId="{$packet-id}" CreatedAt="{$created-at}" Sender="FMS"
                              Recipient="{@Sender}"
                              RecordCount="{count(q:Record) + number($extra-record != '')}"
                              InReplyTo="{$reply-to}">
      <xsl:apply-templates select="q:Record"/>
      <xsl:if test="$extra-record != ''">
        <Result CheckId="{$extra-record}"><Status>valid</Status></Result>
      </xsl:if>
      <xsl:call-template name="dsig"/>
    </PassportValidityResponse>
  </xsl:template>

  <xsl:template match="q:Record">
    <xsl:variable name="k" select="concat(q:Series, q:Number)"/>
    <Result CheckId="{@CheckId}">
      <xsl:for-each select="$reg">
        <xsl:variable name="p" select="key('passport', $k)"/>
        <xsl:choose>
          <xsl:when test="not($p)">
            <Status>not_found</Status>
          </xsl:when>
          <xsl:when test="$p/@st = 'valid'">
            <Status>valid</Status>
          </xsl:when>
          <xsl:otherwise>
            <Status>invalid</Status>
            <Reason><xsl:value-of select="$p/@r"/></Reason>
            <xsl:if test="$p/@d != ''">
              <InvalidSince><xsl:value-of select="$p/@d"/></InvalidSince>
            </xsl:if>
          </xsl:otherwise>
        </xsl:choose>
      </xsl:for-each>
    </Result>
  </xsl:template>
</xsl:stylesheet>
