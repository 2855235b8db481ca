<?xml version="1.0" encoding="UTF-8"?>
<!-- E-mail for the event account_confirmed: first line "Subject: ...", an empty line, the body. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:include href="notify-common.xsl"/>
  <xsl:output method="text" encoding="UTF-8"/>
  <xsl:template match="/notice">
    <xsl:text>Subject: Госуслуги: учётная запись подтверждена&#10;&#10;</xsl:text>
    <xsl:call-template name="greeting"/>
    <xsl:text>Ваша учётная запись подтверждена. Теперь вам доступны все электронные государственные услуги.&#10;</xsl:text>
    <xsl:call-template name="footer"/>
  </xsl:template>
</xsl:stylesheet>
