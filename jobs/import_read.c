/* import-responses: read one packet and believe it only after every check,
 * top to bottom: read (size limit) -> safe parse -> XSD -> agency of the
 * folder -> XML-DSig (pinned anchor, dates, signer O= and [AGENCY]
 * signer_subject, covers the root) -> counts; the results go into the COPY
 * buffer for import_apply.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <openssl/evp.h>

#include "config.h"
#include "db.h"
#include "esia-batch.h"
#include "import.h"
#include "safexml.h"
#include "xmlsig.h"

const struct agency import_agencies[N_AGENCIES] = {
	{ "pfr", "PFR", "http://kvs.pfr.com/snils-validation/1.0.1", "SnilsValidationResponse",
	  "pfr-response.xsd" },
	{ "fms", "FMS", "http://fms.gov.ru/passport-validity/1.0.0", "PassportValidityResponse",
	  "fms-response.xsd" },
};

const struct agency *agency_named(const char *name)
{
	for (size_t i = 0; i < N_AGENCIES; i++)
		if (name && !strcmp(import_agencies[i].name, name))
			return &import_agencies[i];
	return NULL;
}

int refuse(struct why *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->what, sizeof(w->what), fmt, ap);
	va_end(ap);
	return 1;
}

static int read_all(const char *path, long long max, char **buf, long long *len, struct why *w)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	ssize_t got;

	*buf = NULL;
	if (fd < 0)
		return refuse(w, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return refuse(w, "not a regular file");
	}
	if (st.st_size > max) {
		close(fd);
		return refuse(w, "oversize: %lld bytes, limit %lld", (long long)st.st_size, max);
	}
	*buf = xmalloc(st.st_size + 1);
	got = read(fd, *buf, st.st_size);
	close(fd);
	if (got != st.st_size) {
		free(*buf);
		*buf = NULL;
		return refuse(w, "short read");
	}
	(*buf)[st.st_size] = '\0';
	*len = st.st_size;
	return 0;
}

static void sha256_hex(const char *buf, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int is_el(xmlNodePtr n, const char *ns, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns && !strcmp((const char *)n->ns->href, ns) &&
	       !strcmp((const char *)n->name, name);
}

static void copy_attr(xmlNodePtr n, const char *name, char *out, size_t sz)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);

	snprintf(out, sz, "%s", v ? (const char *)v : "");
	xmlFree(v);
}

static void copy_put(struct run *r, const char *s, size_t n)
{
	if (r->copylen + n + 1 > r->copycap) {
		r->copycap = (r->copylen + n + 1) * 2;
		r->copybuf = xrealloc(r->copybuf, r->copycap);
	}
	memcpy(r->copybuf + r->copylen, s, n);
	r->copylen += n;
}

/* A text field, COPY-escaped (tab, newline, backslash would otherwise split
 * or shift the row), or \N; then the separator. */
static void copy_text(struct run *r, const xmlChar *v, int last)
{
	size_t n = v ? strlen((const char *)v) : 0;
	char *esc = xmalloc(2 * n + 3);

	if (v && db_copy_escape((const char *)v, esc, (int)(2 * n + 3)) >= 0)
		copy_put(r, esc, strlen(esc));
	else
		copy_put(r, "\\N", 2);
	copy_put(r, last ? "\n" : "\t", 1);
	free(esc);
}

/* The text of the first child element `name` of n, or NULL. */
static xmlChar *child_text(xmlNodePtr n, const char *ns, const char *name)
{
	for (xmlNodePtr k = n->children; k; k = k->next)
		if (is_el(k, ns, name))
			return xmlNodeGetContent(k);
	return NULL;
}

/* An atomic value as the schema reads it: whitespace collapsed (xs:long and
 * xs:date allow " 2\t", say), i.e. space, tab, CR and LF trimmed. */
static const char *collapse(const xmlChar *v, size_t *n)
{
	const char *s = v ? (const char *)v : "";

	while (*s && strchr(" \t\r\n", *s))
		s++;
	*n = strlen(s);
	while (*n && strchr(" \t\r\n", s[*n - 1]))
		--*n;
	return s;
}

/* An xs:long exactly as the schema accepts it (optional sign, digits, any
 * number of leading zeros) into *out; -1 if it is not one or does not fit.
 * Copying the text as it came truncated or mangled it: a CheckId of 32
 * zero-padded characters answered another check. */
static int parse_long(const xmlChar *v, long long *out)
{
	size_t n, i = 0;
	const char *s = collapse(v, &n);
	char *copy, *end;
	int ret = -1;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i == n)
		return -1;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	copy = xstrndup(s, n);
	errno = 0;
	*out = strtoll(copy, &end, 10);
	if (!errno && end == copy + n)
		ret = 0;
	free(copy);
	return ret;
}

/* A date as PostgreSQL must read it: exactly YYYY-MM-DD, a real day. xs:date
 * also allows a time zone ("2020-01-01-05:00"), negative and 5-digit years,
 * which date input refuses or reads otherwise. */
static int parse_date(const xmlChar *v, char out[11])
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	size_t n;
	const char *s = collapse(v, &n);
	int y, m, d;

	if (n != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (size_t i = 0; i < n; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] ||
	    (m == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400))))
		return -1;
	memcpy(out, s, 10);
	out[10] = '\0';
	return 0;
}

/* One Result as a COPY row: check_id, status, message (PFR Message / FMS
 * Reason), since; every field normalised here, so that no value the schema
 * lets through can shift the row or fail the COPY. The message goes as sent:
 * import_apply.c's MESSAGE makes it one line, and refuses an invalid
 * passport without one. 0 or 1 refused. */
static int extract_result(struct run *r, xmlNodePtr n, const struct packet *pk, long long k,
			  struct why *w)
{
	const char *ns = pk->ag->ns;
	int fms = !strcmp(pk->ag->name, "fms"), ret = 1;
	xmlChar *idv = xmlGetNoNsProp(n, (const xmlChar *)"CheckId");
	xmlChar *status = child_text(n, ns, "Status");
	xmlChar *text = child_text(n, ns, fms ? "Reason" : "Message");
	xmlChar *since = fms ? child_text(n, ns, "InvalidSince") : NULL;
	char num[24], day[11];
	long long id;

	if (parse_long(idv, &id) || id <= 0) {
		refuse(w, "result %lld: CheckId is not a number from 1 to %lld", k, LLONG_MAX);
		goto out;
	}
	if (!status) {
		refuse(w, "result for CheckId %lld has no Status", id);
		goto out;
	}
	if (since && parse_date(since, day)) {
		refuse(w, "result for CheckId %lld: InvalidSince is not a date YYYY-MM-DD", id);
		goto out;
	}
	snprintf(num, sizeof(num), "%lld\t", id);
	copy_put(r, num, strlen(num));
	copy_text(r, status, 0);
	copy_text(r, text, 0);
	copy_text(r, since ? (const xmlChar *)day : NULL, 1);
	ret = 0;
out:
	xmlFree(idv);
	xmlFree(status);
	xmlFree(text);
	xmlFree(since);
	return ret;
}

/* After XSD and signature: the root's attributes and the COPY rows. */
static int extract(struct run *r, xmlNodePtr root, struct packet *pk, struct why *w)
{
	xmlChar *count = xmlGetNoNsProp(root, (const xmlChar *)"RecordCount");
	int bad = parse_long(count, &pk->count) || pk->count <= 0;

	xmlFree(count);
	if (bad)
		return refuse(w, "RecordCount is not a number from 1 to %lld", LLONG_MAX);
	copy_attr(root, "PacketId", pk->id, sizeof(pk->id));
	copy_attr(root, "InReplyTo", pk->reply_to, sizeof(pk->reply_to));
	r->copylen = 0;
	pk->results = 0;
	for (xmlNodePtr n = root->children; n; n = n->next) {
		if (!is_el(n, pk->ag->ns, "Result"))
			continue;
		if (extract_result(r, n, pk, pk->results + 1, w))
			return 1;
		pk->results++;
	}
	if (pk->results != pk->count)
		return refuse(w, "RecordCount %lld does not match %lld results", pk->count, pk->results);
	return 0;
}

/* Everything that can be checked without the database. 0 believed, 1 refused
 * (w says why), never -1: a packet cannot make the job fail. */
int import_verify(struct run *r, const struct work *wk, struct packet *pk, xmlDocPtr *docp,
		  struct why *w)
{
	long long max = 0, len = 0;
	char *buf = NULL, why[512] = "";
	xmlDocPtr doc = NULL;
	xmlNodePtr root;
	const struct agency *ag = NULL;
	int ret = 1;

	for (size_t i = 0; i < N_AGENCIES; i++) {
		long long m = cfg_int(r->cfg, import_agencies[i].name, "max_response_bytes");
		if ((!wk->ag || wk->ag == &import_agencies[i]) && m > max)
			max = m;
	}
	if (read_all(wk->path, max, &buf, &len, w))
		goto out;
	pk->bytes = len;
	sha256_hex(buf, len, pk->sha256);
	doc = safexml_read_mem(buf, len, max, wk->path, why, sizeof(why));
	if (!doc) {
		refuse(w, "unsafe or malformed XML: %s", why);
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	for (size_t i = 0; root && i < N_AGENCIES; i++)
		if (is_el(root, import_agencies[i].ns, import_agencies[i].root))
			ag = &import_agencies[i];
	if (!ag) {
		refuse(w, "not a response packet: root element {%s}%s",
		       root && root->ns ? (const char *)root->ns->href : "",
		       root ? (const char *)root->name : "(none)");
		goto out;
	}
	if (safexml_validate(doc, cfg_formats_dir(r->cfg), ag->xsd, why, sizeof(why))) {
		refuse(w, "does not match %s: %s", ag->xsd, why);
		goto out;
	}
	if (wk->ag && wk->ag != ag) {
		refuse(w, "wrong agency: a %s packet in the %s folder", ag->org, wk->ag->org);
		goto out;
	}
	if (len > cfg_int(r->cfg, ag->name, "max_response_bytes")) {
		refuse(w, "oversize: %lld bytes, limit %lld", len,
		       cfg_int(r->cfg, ag->name, "max_response_bytes"));
		goto out;
	}
	pk->ag = ag;
	if (xmlsig_verify(doc, cfg_str(r->cfg, ag->name, "trust_anchor"), ag->org,
			  cfg_str(r->cfg, ag->name, "signer_subject"), why, sizeof(why))) {
		refuse(w, "signature refused: %s", why);
		goto out;
	}
	if (extract(r, root, pk, w))
		goto out;
	*docp = doc;
	doc = NULL;
	ret = 0;
out:
	xmlFreeDoc(doc);
	free(buf);
	return ret;
}
