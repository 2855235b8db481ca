/* import-responses: read one packet and believe it only after every check,
 * top to bottom: read (size limit) -> safe parse -> XSD -> agency of the
 * folder -> XML-DSig (pinned anchor, dates, signer O= and [AGENCY]
 * signer_subject, covers the root) -> counts; the results go into the COPY
 * buffer for import_apply.c. */
#include <errno.h>
#include <fcntl.h>
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

/* The text of child element `name` of n, COPY-escaped, or \N. */
static void copy_child(struct run *r, xmlNodePtr n, const char *ns, const char *name, int last)
{
	char esc[4096];
	xmlChar *v = NULL;

	for (xmlNodePtr k = n->children; k; k = k->next)
		if (is_el(k, ns, name)) {
			v = xmlNodeGetContent(k);
			break;
		}
	if (v && db_copy_escape((const char *)v, esc, sizeof(esc)) >= 0)
		copy_put(r, esc, strlen(esc));
	else
		copy_put(r, "\\N", 2);
	copy_put(r, last ? "\n" : "\t", 1);
	xmlFree(v);
}

/* After XSD and signature: the root's attributes and the COPY rows
 * check_id, status, message (PFR Message / FMS Reason), since. */
static int extract(struct run *r, xmlNodePtr root, struct packet *pk, struct why *w)
{
	const char *ns = pk->ag->ns;
	char count[32], id[32];
	int fms = !strcmp(pk->ag->name, "fms");

	copy_attr(root, "PacketId", pk->id, sizeof(pk->id));
	copy_attr(root, "InReplyTo", pk->reply_to, sizeof(pk->reply_to));
	copy_attr(root, "RecordCount", count, sizeof(count));
	pk->count = atoll(count);
	r->copylen = 0;
	pk->results = 0;
	for (xmlNodePtr n = root->children; n; n = n->next) {
		if (!is_el(n, ns, "Result"))
			continue;
		copy_attr(n, "CheckId", id, sizeof(id));
		copy_put(r, id, strlen(id));
		copy_put(r, "\t", 1);
		copy_child(r, n, ns, "Status", 0);
		if (fms) {
			xmlChar *st = NULL;

			for (xmlNodePtr k = n->children; k; k = k->next)
				if (is_el(k, ns, "Status"))
					st = xmlNodeGetContent(k);
			int bad = st && !strcmp((const char *)st, "invalid");
			xmlFree(st);
			if (bad) {
				int has = 0;
				for (xmlNodePtr k = n->children; k; k = k->next)
					has |= is_el(k, ns, "Reason");
				if (!has)
					return refuse(w, "result for CheckId %s is invalid without a Reason", id);
			}
			copy_child(r, n, ns, "Reason", 0);
			copy_child(r, n, ns, "InvalidSince", 1);
		} else {
			copy_child(r, n, ns, "Message", 0);
			copy_put(r, "\\N\n", 3);
		}
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
