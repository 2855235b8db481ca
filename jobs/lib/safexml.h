/* The one way to parse XML from outside: size-limited, no network, no DTD
 * (so no entity expansion, internal or external), libxml2's own limits on.
 * Whitespace is kept, as signatures need it. */
#ifndef ESIA_SAFEXML_H
#define ESIA_SAFEXML_H

#include <stddef.h>
#include <libxml/tree.h>

/* Parse the file at path if it is a regular file of at most max_bytes.
 * On refusal returns NULL and a one-line reason in why. */
xmlDocPtr safexml_read_file(const char *path, long long max_bytes, char *why, size_t n);
/* The same for a buffer (archives, downloads). */
xmlDocPtr safexml_read_mem(const char *buf, size_t len, long long max_bytes, const char *name,
			   char *why, size_t n);
/* Validate doc against formats_dir/xsd_name; 0 or -1 with the first error in why.
 * Compiled schemas are cached until safexml_cleanup() (at exit). */
int safexml_validate(xmlDocPtr doc, const char *formats_dir, const char *xsd_name, char *why,
		     size_t n);

void safexml_cleanup(void);

#endif
