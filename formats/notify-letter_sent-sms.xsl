<?xml version="1.0" encoding="UTF-8"?>
<!-- SMS for the event letter_sent: one short text, at most two segments (134 characters). -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:include href="notify-common.xsl"/>
  <xsl:output method="text" encoding="UTF-8"/>
  <xsl:template match="/notice">
    <xsl:text>Госуслуги: письмо с кодом подтверждения отправлено, почтовый идентификатор </xsl:text>
    <xsl:value-of select="tracking"/>
    <xsl:text>.</xsl:text>
  </xsl:template>
</xsl:stylesheet>
