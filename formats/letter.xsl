<?xml version="1.0" encoding="UTF-8"?>
<!-- Activation-code letter: wording and layout. Input: letters data XML made
     by `esia-batch print-letters`:
       <letters><sender><name/><address/><index/></sender>
         <letter page="N"><recipient><family/><first/><patronymic/><street/>
           <house/><flat/><locality/><district/><region/><index/></recipient>
           <tracking>14 digits</tracking><code>16 digits</code>
           <valid-until>DD.MM.YYYY</valid-until></letter>...</letters>
     Output: the layout language of jobs/lib/letter_pdf.h (mm from the top-left
     corner of an A4 sheet; font sizes in pt), one @page per letter.
     The sheet is folded in three (99 mm panels) into a DL window envelope;
     the window shows the recipient zone (95 x 55 mm, 105..200 x 40..95 mm):
     the tracking barcode (the Post scans it through the window), the
     registered-letter mark and the recipient's address. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text" encoding="UTF-8"/>

  <!-- layout values -->
  <xsl:param name="left" select="20"/>
  <xsl:param name="window-x" select="108"/>
  <xsl:param name="window-y" select="56"/>
  <xsl:param name="barcode-y" select="42"/>
  <xsl:param name="body-y" select="112"/>
  <xsl:param name="narrow" select="0.4"/>
  <xsl:param name="wide" select="1.0"/>
  <xsl:param name="bar-height" select="9"/>

  <!-- What every page shares is drawn once (a template the pages reuse);
       each letter adds its own parts. -->
  <xsl:template match="/letters">
    <xsl:variable name="s" select="sender"/>
    <xsl:text>@template common&#10;</xsl:text>
    <!-- fold marks at the panel edges -->
    <xsl:text>@line 0 99 6 99 0.5&#10;@line 204 99 210 99 0.5&#10;</xsl:text>
    <xsl:text>@line 0 198 6 198 0.5&#10;@line 204 198 210 198 0.5&#10;</xsl:text>

    <!-- sender -->
    <xsl:value-of select="concat('@text ', $left, ' 14 sans 8 3.6&#10;')"/>
    <xsl:call-template name="line"><xsl:with-param name="text" select="'От кого:'"/></xsl:call-template>
    <xsl:call-template name="line"><xsl:with-param name="text" select="$s/name"/></xsl:call-template>
    <xsl:call-template name="line"><xsl:with-param name="text" select="$s/address"/></xsl:call-template>
    <xsl:call-template name="line"><xsl:with-param name="text" select="$s/index"/></xsl:call-template>

    <!-- registered-letter mark beside the tracking number, in the window -->
    <xsl:value-of select="concat('@text ', $window-x + 62, ' ', $barcode-y + 4, ' sans-bold 9 4&#10;')"/>
    <xsl:call-template name="line"><xsl:with-param name="text" select="'ЗАКАЗНОЕ'"/></xsl:call-template>

    <xsl:value-of select="concat('@text ', $window-x, ' ', $window-y, ' sans 7 3.5&#10;')"/>
    <xsl:call-template name="line"><xsl:with-param name="text" select="'Кому:'"/></xsl:call-template>

    <!-- the letter -->
    <xsl:value-of select="concat('@text ', $left, ' ', $body-y, ' sans-bold 13 6&#10;')"/>
    <xsl:call-template name="line"><xsl:with-param name="text" select="'Код подтверждения личности для портала Госуслуг'"/></xsl:call-template>
    <xsl:value-of select="concat('@text ', $left, ' ', $body-y + 16.5, ' sans 10.5 5.5&#10;')"/>
    <xsl:call-template name="line"><xsl:with-param name="text" select="'Вы выбрали подтверждение учётной записи на портале Госуслуг по почте.'"/></xsl:call-template>
    <xsl:call-template name="line"><xsl:with-param name="text" select="'Ваш код подтверждения личности:'"/></xsl:call-template>
    <xsl:value-of select="concat('@rect ', $left + 5, ' ', $body-y + 28, ' 120 16 0.8&#10;')"/>

    <xsl:value-of select="concat('@text ', $left, ' ', $body-y + 52, ' sans 10.5 5.5&#10;')"/>
    <xsl:call-template name="line"><xsl:with-param name="text" select="'Чтобы подтвердить учётную запись:'"/></xsl:call-template>
    <xsl:call-template name="line"><xsl:with-param name="text" select="'1. Войдите на портал Госуслуг (www.gosuslugi.ru) со своим логином и паролем.'"/></xsl:call-template>
    <xsl:call-template name="line"><xsl:with-param name="text" select="'2. Откройте раздел «Персональные данные».'"/></xsl:call-template>
    <xsl:call-template name="line"><xsl:with-param name="text" select="'3. Нажмите «Ввести код подтверждения» и введите код из этого письма.'"/></xsl:call-template>
    <xsl:value-of select="concat('@text ', $left, ' ', $body-y + 52 + 6 * 5.5, ' sans 10.5 5.5&#10;')"/>
    <xsl:call-template name="line"><xsl:with-param name="text" select="'После нескольких неверных попыток код блокируется; тогда закажите новое письмо.'"/></xsl:call-template>
    <xsl:call-template name="line"><xsl:with-param name="text" select="'Никому не сообщайте этот код, даже сотрудникам портала или МФЦ.'"/></xsl:call-template>
    <xsl:text>@end&#10;</xsl:text>
    <xsl:apply-templates select="letter"/>
  </xsl:template>

  <xsl:template name="line">
    <xsl:param name="text"/>
    <xsl:text>|</xsl:text>
    <xsl:value-of select="normalize-space($text)"/>
    <xsl:text>&#10;</xsl:text>
  </xsl:template>

  <xsl:template match="letter">
    <xsl:variable name="r" select="recipient"/>
    <xsl:variable name="t" select="normalize-space(tracking)"/>
    <xsl:variable name="c" select="normalize-space(code)"/>
    <xsl:text>@page&#10;@use common&#10;</xsl:text>

    <!-- tracking number (ШПИ) in the window: bars, digits grouped 6-2-5-1 -->
    <xsl:value-of select="concat('@barcode ', $window-x + 2, ' ', $barcode-y, ' ', $narrow, ' ', $wide, ' ', $bar-height, ' ', $t, '&#10;')"/>
    <xsl:value-of select="concat('@text ', $window-x + 4, ' ', $barcode-y + $bar-height + 0.5, ' mono 9 4&#10;')"/>
    <xsl:call-template name="line">
      <xsl:with-param name="text" select="concat(substring($t, 1, 6), ' ', substring($t, 7, 2), ' ',
                                                 substring($t, 9, 5), ' ', substring($t, 14, 1))"/>
    </xsl:call-template>

    <!-- recipient, in the envelope window -->
    <!-- condensed to the window's width (108..198 mm), never cut; below 60%
         of its natural width, print-letters warns (print.line_condensed) -->
    <xsl:value-of select="concat('@text ', $window-x, ' ', $window-y + 4.5, ' sans 10 4.6 ', 198 - $window-x, '&#10;')"/>
    <xsl:call-template name="line">
      <xsl:with-param name="text" select="concat($r/family, ' ', $r/first, ' ', $r/patronymic)"/>
    </xsl:call-template>
    <xsl:call-template name="line">
      <xsl:with-param name="text">
        <xsl:value-of select="concat($r/street, ', д. ', $r/house)"/>
        <xsl:if test="normalize-space($r/flat) != ''">
          <xsl:value-of select="concat(', кв. ', $r/flat)"/>
        </xsl:if>
      </xsl:with-param>
    </xsl:call-template>
    <xsl:call-template name="line"><xsl:with-param name="text" select="$r/locality"/></xsl:call-template>
    <xsl:if test="normalize-space($r/district) != ''">
      <xsl:call-template name="line"><xsl:with-param name="text" select="$r/district"/></xsl:call-template>
    </xsl:if>
    <xsl:if test="normalize-space($r/region) != ''">
      <xsl:call-template name="line"><xsl:with-param name="text" select="$r/region"/></xsl:call-template>
    </xsl:if>
    <xsl:value-of select="concat('@text ', $window-x, ' ', $window-y + 28, ' sans-bold 12 5.5 ', 198 - $window-x, '&#10;')"/>
    <xsl:call-template name="line"><xsl:with-param name="text" select="$r/index"/></xsl:call-template>

    <!-- greeting, the code on a line of its own, validity -->
    <xsl:value-of select="concat('@text ', $left, ' ', $body-y + 11, ' sans 10.5 5.5 ', 210 - 2 * $left, '&#10;')"/>
    <xsl:call-template name="line">
      <xsl:with-param name="text" select="concat('Уважаемый(ая) ', normalize-space(concat($r/first, ' ', $r/patronymic)), '!')"/>
    </xsl:call-template>
    <xsl:value-of select="concat('@text ', $left + 10, ' ', $body-y + 31, ' mono-bold 24 10&#10;')"/>
    <xsl:call-template name="line">
      <xsl:with-param name="text" select="concat(substring($c, 1, 4), ' ', substring($c, 5, 4), ' ',
                                                 substring($c, 9, 4), ' ', substring($c, 13, 4))"/>
    </xsl:call-template>
    <xsl:value-of select="concat('@text ', $left, ' ', $body-y + 52 + 5 * 5.5, ' sans 10.5 5.5&#10;')"/>
    <xsl:call-template name="line">
      <xsl:with-param name="text" select="concat('Код действителен до ', valid-until, ' включительно.')"/>
    </xsl:call-template>

    <xsl:value-of select="concat('@text ', $left, ' 280 sans 7 3.2&#10;')"/>
    <xsl:call-template name="line">
      <xsl:with-param name="text" select="concat('Письмо сформировано автоматически. Почтовый идентификатор ', $t, '.')"/>
    </xsl:call-template>
  </xsl:template>
</xsl:stylesheet>
