<?xml version="1.0" encoding="UTF-8"?>
<!-- E-mail for the event code_expiring: first line "Subject: ...", an empty line, the body. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:include href="notify-common.xsl"/>
  <xsl:output method="text" encoding="UTF-8"/>
  <xsl:template match="/notice">
    <xsl:text>Subject: Госуслуги: срок действия кода подтверждения истекает&#10;&#10;</xsl:text>
    <xsl:call-template name="greeting"/>
    <xsl:text>Код подтверждения из заказного письма действителен до </xsl:text>
    <xsl:call-template name="date"><xsl:with-param name="d" select="valid-until"/></xsl:call-template>
    <xsl:text> включительно.&#10;Введите код в разделе «Персональные данные» личного кабинета не позднее этого дня.&#10;</xsl:text>
    <xsl:text>Если письмо не пришло, код можно запросить повторно.&#10;</xsl:text>
    <xsl:call-template name="footer"/>
  </xsl:template>
</xsl:stylesheet>
