/* The one XSLT runner: templates in formats/ (letter wording, notification
 * texts, the auditor's view) turn data XML into text, so wording changes need
 * no recompiling. Stylesheets may not read or write files or the network. */
#ifndef ESIA_XSLT_H
#define ESIA_XSLT_H

#include <libxml/tree.h>

/* Apply formats_dir/xsl_name to doc; *out is a malloc'd NUL-terminated
 * result. params: NULL-terminated name/value pairs (values are XPath
 * expressions, so quote strings: "'text'"), or NULL. Compiled stylesheets are
 * cached for the life of the process. */
int xslt_apply(const char *formats_dir, const char *xsl_name, xmlDocPtr doc,
	       const char **params, char **out, int *len);
/* Free the cache (at exit, for leak checkers). */
void xslt_cleanup(void);

#endif
