#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "err.h"
#include "safexml.h"

/* No DTD loading, no entity substitution, no network; errors collected, not printed. */
#define SAFE_OPTS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

static void trim_nl(char *s)
{
	size_t k = strlen(s);

	while (k && (s[k - 1] == '\n' || s[k - 1] == ' '))
		s[--k] = '\0';
}

struct errbuf {
	char *why;
	size_t n;
	int seen;
};

static void collect(void *ctx, const char *fmt, ...)
{
	struct errbuf *e = ctx;
	va_list ap;

	if (e->seen++)
		return; /* the first error is the one worth reporting */
	va_start(ap, fmt);
	vsnprintf(e->why, e->n, fmt, ap);
	va_end(ap);
	trim_nl(e->why);
}

static void structured(void *ctx, xmlErrorPtr err)
{
	struct errbuf *e = ctx;

	if (e->seen++)
		return;
	snprintf(e->why, e->n, "line %d: %s", err->line, err->message ? err->message : "?");
	trim_nl(e->why);
}

xmlDocPtr safexml_read_mem(const char *buf, size_t len, long long max_bytes, const char *name,
			   char *why, size_t n)
{
	xmlParserCtxtPtr p;
	xmlDocPtr doc = NULL;

	if ((long long)len > max_bytes) {
		snprintf(why, n, "size %zu bytes exceeds the limit of %lld", len, max_bytes);
		return NULL;
	}
	/* A packet never needs a DTD; refusing one up front rules out entity
	 * bombs and external entities whatever the parser would do with them. */
	if (memmem(buf, len, "<!DOCTYPE", 9) || memmem(buf, len, "<!ENTITY", 8)) {
		snprintf(why, n, "document has a DTD or entity declaration (refused)");
		return NULL;
	}
	p = xmlNewParserCtxt();
	if (!p) {
		snprintf(why, n, "out of memory");
		return NULL;
	}
	doc = xmlCtxtReadMemory(p, buf, (int)len, name, NULL, SAFE_OPTS);
	if (!doc || !p->wellFormed) {
		const xmlError *e = xmlCtxtGetLastError(p);

		snprintf(why, n, "not well-formed XML: line %d: %s", e ? e->line : 0,
			 e && e->message ? e->message : "parse error");
		trim_nl(why);
		xmlFreeDoc(doc);
		doc = NULL;
	} else if (doc->intSubset || doc->extSubset) {
		snprintf(why, n, "document has a DTD (refused)");
		xmlFreeDoc(doc);
		doc = NULL;
	}
	xmlFreeParserCtxt(p);
	return doc;
}

xmlDocPtr safexml_read_file(const char *path, long long max_bytes, char *why, size_t n)
{
	struct stat st;
	char *buf = NULL;
	xmlDocPtr doc = NULL;
	ssize_t got;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(why, n, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(why, n, "not a regular file");
		goto out;
	}
	if (st.st_size > max_bytes) {
		snprintf(why, n, "size %lld bytes exceeds the limit of %lld", (long long)st.st_size,
			 max_bytes);
		goto out;
	}
	buf = xmalloc(st.st_size + 1);
	got = read(fd, buf, st.st_size);
	if (got != st.st_size) {
		snprintf(why, n, "short read");
		goto out;
	}
	doc = safexml_read_mem(buf, st.st_size, max_bytes, path, why, n);
out:
	free(buf);
	close(fd);
	return doc;
}

/* Compiled schemas, kept for the life of the process: an import validates
 * every packet against one of a handful of XSDs. */
static struct {
	char *path;
	xmlSchemaPtr schema;
} schemas[8];
static int nschemas;

static xmlSchemaPtr load_schema(const char *path, struct errbuf *e)
{
	xmlSchemaParserCtxtPtr pc;
	xmlSchemaPtr schema;

	for (int i = 0; i < nschemas; i++)
		if (!strcmp(schemas[i].path, path))
			return schemas[i].schema;
	pc = xmlSchemaNewParserCtxt(path);
	if (!pc) {
		snprintf(e->why, e->n, "cannot read schema %s", path);
		return NULL;
	}
	xmlSchemaSetParserErrors(pc, collect, collect, e);
	schema = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	if (!schema) {
		if (!e->seen)
			snprintf(e->why, e->n, "cannot parse schema %s", path);
		return NULL;
	}
	if (nschemas < (int)(sizeof(schemas) / sizeof(schemas[0]))) {
		schemas[nschemas].path = xstrdup(path);
		schemas[nschemas].schema = schema;
		nschemas++;
	}
	return schema; /* not cached when the table is full: caller frees */
}

static int is_cached(xmlSchemaPtr schema)
{
	for (int i = 0; i < nschemas; i++)
		if (schemas[i].schema == schema)
			return 1;
	return 0;
}

void safexml_cleanup(void)
{
	for (int i = 0; i < nschemas; i++) {
		xmlSchemaFree(schemas[i].schema);
		free(schemas[i].path);
	}
	nschemas = 0;
}

int safexml_validate(xmlDocPtr doc, const char *formats_dir, const char *xsd_name, char *why,
		     size_t n)
{
	char *path = xasprintf("%s/%s", formats_dir, xsd_name);
	struct errbuf e = { why, n, 0 };
	xmlSchemaValidCtxtPtr vc = NULL;
	xmlSchemaPtr schema;
	int ret = -1;

	why[0] = '\0';
	schema = load_schema(path, &e);
	if (!schema)
		goto out;
	vc = xmlSchemaNewValidCtxt(schema);
	if (!vc)
		goto out;
	xmlSchemaSetValidStructuredErrors(vc, structured, &e);
	if (xmlSchemaValidateDoc(vc, doc) == 0)
		ret = 0;
	else if (!e.seen)
		snprintf(why, n, "does not match %s", xsd_name);
out:
	xmlSchemaFreeValidCtxt(vc);
	if (schema && !is_cached(schema))
		xmlSchemaFree(schema);
	free(path);
	return ret;
}
