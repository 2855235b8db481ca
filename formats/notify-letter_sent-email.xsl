<?xml version="1.0" encoding="UTF-8"?>
<!-- E-mail for the event letter_sent: first line "Subject: ...", an empty line, the body. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:include href="notify-common.xsl"/>
  <xsl:output method="text" encoding="UTF-8"/>
  <xsl:template match="/notice">
    <xsl:text>Subject: Госуслуги: письмо с кодом подтверждения отправлено&#10;&#10;</xsl:text>
    <xsl:call-template name="greeting"/>
    <xsl:text>Мы отправили вам заказное письмо с кодом подтверждения личности.&#10;</xsl:text>
    <xsl:text>Почтовый идентификатор: </xsl:text>
    <xsl:value-of select="tracking"/>
    <xsl:text>&#10;Отследить письмо можно на сайте pochta.ru.&#10;&#10;</xsl:text>
    <xsl:text>Когда письмо придёт, войдите на портал и введите код в разделе «Персональные данные».&#10;</xsl:text>
    <xsl:call-template name="footer"/>
  </xsl:template>
</xsl:stylesheet>
