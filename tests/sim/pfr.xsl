<?xml version="1.0" encoding="UTF-8"?>
<!-- Agency simulator, PFR: a SNILS-check request packet in, an UNSIGNED
     response packet with an XML-DSig template out (xmlsec1 signs it).
     Params: registry (file: <r><p s="SNILS" f="" i="" o="" g="" b=""/>...</r>),
     packet-id, created-at, reply-to (default: the request's PacketId),
     extra-record (non-empty: add a Result for a CheckId not in the request). -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:q="http://kvs.pfr.com/snils-validation/1.0.1"
                xmlns="http://kvs.pfr.com/snils-validation/1.0.1"
                exclude-result-prefixes="q">
  <xsl:import href="dsig.xsl"/>
  <xsl:output method="xml" encoding="UTF-8" indent="no"/>
  <xsl:param name="registry"/>
  <xsl:param name="packet-id"/>
  <xsl:param name="created-at"/>
  <xsl:param name="reply-to" select="/q:SnilsValidationRequest/@PacketId"/>
  <xsl:param name="extra-record" select="''"/>
  <xsl:key name="snils" match="p" use="@s"/>
  <xsl:variable name="reg" select="document($registry)"/>

  <xsl:template match="/q:SnilsValidationRequest">
    <SnilsValidationResponse PacketId="{$packet-id}" CreatedAt="{$created-at}" Sender="PFR"
                             Recipient="{@Sender}"
                             RecordCount="{count(q:Record) + number($extra-record != '')}"
                             InReplyTo="{$reply-to}">
      <xsl:apply-templates select="q:Record"/>
      <xsl:if test="$extra-record != ''">
        <Result CheckId="{$extra-record}"><Status>match</Status></Result>
      </xsl:if>
      <xsl:call-template name="dsig"/>
    </SnilsValidationResponse>
  </xsl:template>

  <xsl:template match="q:Record">
    <xsl:variable name="rec" select="."/>
    <Result CheckId="{@CheckId}">
      <xsl:for-each select="$reg">
        <xsl:variable name="p" select="key('snils', $rec/q:Snils)"/>
        <xsl:choose>
          <xsl:when test="not($p)">
            <Status>not_found</Status>
            <Message>СНИЛС не найден</Message>
          </xsl:when>
          <xsl:when test="$p/@f = $rec/q:FamilyName and $p/@i = $rec/q:FirstName
                          and $p/@o = string($rec/q:Patronymic) and $p/@g = $rec/q:Gender
                          and $p/@b = $rec/q:BirthDate">
            <Status>match</Status>
          </xsl:when>
          <xsl:otherwise>
            <Status>mismatch</Status>
            <Message>
              <xsl:choose>
                <xsl:when test="$p/@f != $rec/q:FamilyName or $p/@i != $rec/q:FirstName
                                or $p/@o != string($rec/q:Patronymic)">ФИО не совпадает</xsl:when>
                <xsl:otherwise>Пол или дата рождения не совпадают</xsl:otherwise>
              </xsl:choose>
            </Message>
          </xsl:otherwise>
        </xsl:choose>
      </xsl:for-each>
    </Result>
  </xsl:template>
</xsl:stylesheet>
