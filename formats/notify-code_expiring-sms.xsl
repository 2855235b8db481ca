<?xml version="1.0" encoding="UTF-8"?>
<!-- SMS for the event code_expiring: one short text, at most two segments (134 characters). -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:include href="notify-common.xsl"/>
  <xsl:output method="text" encoding="UTF-8"/>
  <xsl:template match="/notice">
    <xsl:text>Госуслуги: код подтверждения действителен до </xsl:text>
    <xsl:call-template name="date"><xsl:with-param name="d" select="valid-until"/></xsl:call-template>
    <xsl:text> включительно. Введите его в разделе «Персональные данные».</xsl:text>
  </xsl:template>
</xsl:stylesheet>
