<?xml version="1.0" encoding="UTF-8"?>
<!-- SMS for the event check_failed: one short text, at most two segments (134 characters). -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:include href="notify-common.xsl"/>
  <xsl:output method="text" encoding="UTF-8"/>
  <xsl:template match="/notice">
    <xsl:text>Госуслуги: данные не прошли проверку. Исправьте их в разделе «Персональные данные».</xsl:text>
  </xsl:template>
</xsl:stylesheet>
