<?xml version="1.0" encoding="UTF-8"?>
<!-- E-mail for the event check_failed: first line "Subject: ...", an empty line, the body. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:include href="notify-common.xsl"/>
  <xsl:output method="text" encoding="UTF-8"/>
  <xsl:template match="/notice">
    <xsl:text>Subject: Госуслуги: данные не прошли проверку&#10;&#10;</xsl:text>
    <xsl:call-template name="greeting"/>
    <xsl:text>Ваши персональные данные не прошли проверку.&#10;</xsl:text>
    <xsl:if test="normalize-space(reason) != ''">
      <xsl:text>Причина: </xsl:text>
      <xsl:value-of select="normalize-space(reason)"/>
      <xsl:text>&#10;</xsl:text>
    </xsl:if>
    <xsl:text>&#10;Исправьте данные в разделе «Персональные данные» личного кабинета: после сохранения они будут отправлены на проверку повторно.&#10;</xsl:text>
    <xsl:call-template name="footer"/>
  </xsl:template>
</xsl:stylesheet>
