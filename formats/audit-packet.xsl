<?xml version="1.0" encoding="UTF-8"?>
<!-- The auditor's readable view of a packet (esia-batch audit show
     PACKET_ID -\-format text): the packet's header, then its records
     (Record or Result elements, any agency) as a text table with one column
     per field. Works on local names, so any packet namespace renders; the
     signature is not shown (its status is printed by esia-batch). -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text" encoding="UTF-8"/>

  <!-- the records: children of the root that carry a CheckId -->
  <xsl:key name="col" match="/*/*[@CheckId]/*" use="local-name()"/>
  <xsl:variable name="records" select="/*/*[@CheckId]"/>
  <!-- one node per distinct field name, in first-seen order -->
  <xsl:variable name="cols"
      select="$records/*[generate-id() = generate-id(key('col', local-name())[1])]"/>
  <xsl:variable name="spaces" select="'                                                                                                    '"/>

  <xsl:template match="/">
    <xsl:variable name="root" select="/*"/>
    <xsl:text>Packet:      </xsl:text><xsl:value-of select="local-name($root)"/>
    <xsl:text>&#10;</xsl:text>
    <xsl:for-each select="$root/@*">
      <xsl:value-of select="local-name()"/>
      <xsl:text>:</xsl:text>
      <xsl:value-of select="substring($spaces, 1, 12 - string-length(local-name()))"/>
      <xsl:value-of select="."/>
      <xsl:text>&#10;</xsl:text>
    </xsl:for-each>
    <xsl:text>Records:     </xsl:text><xsl:value-of select="count($records)"/>
    <xsl:text>&#10;&#10;</xsl:text>
    <!-- header row -->
    <xsl:call-template name="cell">
      <xsl:with-param name="text" select="'#'"/>
      <xsl:with-param name="width" select="string-length(count($records))"/>
    </xsl:call-template>
    <xsl:call-template name="cell">
      <xsl:with-param name="text" select="'CheckId'"/>
      <xsl:with-param name="width" select="$idwidth"/>
    </xsl:call-template>
    <xsl:for-each select="$cols">
      <xsl:call-template name="cell">
        <xsl:with-param name="text" select="local-name()"/>
        <xsl:with-param name="width">
          <xsl:call-template name="width"><xsl:with-param name="name" select="local-name()"/></xsl:call-template>
        </xsl:with-param>
        <xsl:with-param name="last" select="position() = last()"/>
      </xsl:call-template>
    </xsl:for-each>
    <xsl:text>&#10;</xsl:text>
    <!-- one row per record -->
    <xsl:for-each select="$records">
      <xsl:variable name="rec" select="."/>
      <xsl:call-template name="cell">
        <xsl:with-param name="text" select="position()"/>
        <xsl:with-param name="width" select="string-length(count($records))"/>
      </xsl:call-template>
      <xsl:call-template name="cell">
        <xsl:with-param name="text" select="@CheckId"/>
        <xsl:with-param name="width" select="$idwidth"/>
      </xsl:call-template>
      <xsl:for-each select="$cols">
        <xsl:variable name="name" select="local-name()"/>
        <xsl:call-template name="cell">
          <xsl:with-param name="text" select="normalize-space($rec/*[local-name() = $name])"/>
          <xsl:with-param name="width">
            <xsl:call-template name="width"><xsl:with-param name="name" select="$name"/></xsl:call-template>
          </xsl:with-param>
          <xsl:with-param name="last" select="position() = last()"/>
        </xsl:call-template>
      </xsl:for-each>
      <xsl:text>&#10;</xsl:text>
    </xsl:for-each>
  </xsl:template>

  <xsl:variable name="idwidth">
    <xsl:for-each select="$records/@CheckId">
      <xsl:sort select="string-length(.)" data-type="number" order="descending"/>
      <xsl:if test="position() = 1">
        <xsl:choose>
          <xsl:when test="string-length(.) &gt; 7"><xsl:value-of select="string-length(.)"/></xsl:when>
          <xsl:otherwise>7</xsl:otherwise>
        </xsl:choose>
      </xsl:if>
    </xsl:for-each>
  </xsl:variable>

  <!-- widest value of a column, at least its name -->
  <xsl:template name="width">
    <xsl:param name="name"/>
    <xsl:variable name="w">
      <xsl:for-each select="key('col', $name)">
        <xsl:sort select="string-length(normalize-space(.))" data-type="number" order="descending"/>
        <xsl:if test="position() = 1"><xsl:value-of select="string-length(normalize-space(.))"/></xsl:if>
      </xsl:for-each>
    </xsl:variable>
    <xsl:choose>
      <xsl:when test="number($w) &gt; string-length($name)"><xsl:value-of select="$w"/></xsl:when>
      <xsl:otherwise><xsl:value-of select="string-length($name)"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="cell">
    <xsl:param name="text"/>
    <xsl:param name="width"/>
    <xsl:param name="last" select="false()"/>
    <xsl:value-of select="$text"/>
    <xsl:if test="not($last)">
      <xsl:value-of select="substring($spaces, 1, $width - string-length($text) + 2)"/>
    </xsl:if>
  </xsl:template>
</xsl:stylesheet>
