<?xml version="1.0" encoding="UTF-8"?>
<!-- Shared parts of the notification texts (formats/notify-EVENT-CHANNEL.xsl).
     Input: <notice id event channel><first-name/><patronymic/><family-name/>
     and, per event, <reason/>, <tracking/> or <valid-until/> (YYYY-MM-DD: the code's last valid
     day, the letter's "до DD.MM.YYYY включительно"). -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <!-- "Здравствуйте, Иван Иванович!" (name and patronymic, as officially addressed) -->
  <xsl:template name="greeting">
    <xsl:text>Здравствуйте, </xsl:text>
    <xsl:value-of select="normalize-space(first-name)"/>
    <xsl:if test="normalize-space(patronymic) != ''">
      <xsl:text> </xsl:text>
      <xsl:value-of select="normalize-space(patronymic)"/>
    </xsl:if>
    <xsl:text>!&#10;&#10;</xsl:text>
  </xsl:template>

  <xsl:template name="footer">
    <xsl:text>&#10;--&#10;</xsl:text>
    <xsl:text>Это письмо отправлено автоматически, отвечать на него не нужно.&#10;</xsl:text>
    <xsl:text>Портал государственных услуг Российской Федерации&#10;</xsl:text>
  </xsl:template>

  <!-- YYYY-MM-DD as DD.MM.YYYY -->
  <xsl:template name="date">
    <xsl:param name="d"/>
    <xsl:value-of select="concat(substring($d, 9, 2), '.', substring($d, 6, 2), '.', substring($d, 1, 4))"/>
  </xsl:template>
</xsl:stylesheet>
