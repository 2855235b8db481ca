#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "manifest.h"
#include "unpack.h"
#include "validate.h"

#define MAGIC "esia-batch archive manifest 1"

void manifest_init(struct manifest *m)
{
	memset(m, 0, sizeof(*m));
	strcpy(m->prev, "none");
}

void manifest_release(struct manifest *m)
{
	for (size_t i = 0; i < m->nfiles; i++)
		free(m->files[i].path);
	for (size_t i = 0; i < m->npackets; i++) {
		free(m->packets[i].id);
		free(m->packets[i].path);
	}
	for (size_t i = 0; i < m->nmissing; i++)
		free(m->missing[i]);
	free(m->files);
	free(m->packets);
	free(m->missing);
	free(m->job);
	free(m->finished);
	free(m->created);
	manifest_init(m);
}

/* A name fit for a MANIFEST line: UTF-8 without control characters (C0,
 * DEL, C1: CSI starts a terminal sequence for whoever reads it) and without
 * U+2028/U+2029 either; the MANIFEST is one entry a line, and a reader that
 * honours those separators would see one entry as two. */
static int printable(const char *s)
{
	return *s && utf8_line_text(s);
}

int manifest_add_file(struct manifest *m, const char *path, long long size, const char *sha256)
{
	struct manifest_file *f;

	if (!printable(path) || path[0] == '/' || strstr(path, "../"))
		return error("file name \"%s\" cannot go into a manifest (not UTF-8, control characters or not relative)",
			     path);
	if (m->nfiles == m->afiles) {
		m->afiles = m->afiles ? 2 * m->afiles : 16;
		m->files = xrealloc(m->files, m->afiles * sizeof(*m->files));
	}
	f = &m->files[m->nfiles++];
	f->path = xstrdup(path);
	f->size = size;
	snprintf(f->sha256, sizeof(f->sha256), "%s", sha256);
	return 0;
}

void manifest_add_packet(struct manifest *m, const char *id, const char *path)
{
	if (m->npackets == m->apackets) {
		m->apackets = m->apackets ? 2 * m->apackets : 16;
		m->packets = xrealloc(m->packets, m->apackets * sizeof(*m->packets));
	}
	m->packets[m->npackets].id = xstrdup(id);
	m->packets[m->npackets].path = xstrdup(path);
	m->npackets++;
}

/* A missing file's name comes from the database (packets.file_name, the
 * name an agency's file had), not from a file that passed
 * manifest_add_file(): a newline in it would forge a line of the signed
 * MANIFEST. Such a name is kept, escaped as in the log. */
void manifest_add_missing(struct manifest *m, const char *path)
{
	m->missing = xrealloc(m->missing, (m->nmissing + 1) * sizeof(char *));
	m->missing[m->nmissing++] = printable(path) ? xstrdup(path) : escape_line(path);
}

char *manifest_format(const struct manifest *m, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f) {
		fprintf(stderr, "esia-batch: fatal: out of memory\n");
		abort();
	}
	fprintf(f, "%s\nseq: %lld\nbatch: %lld\njob: %s\nfinished: %s\ncreated: %s\nprev: %s\n", MAGIC,
		m->seq, m->batch, m->job, m->finished, m->created, m->prev);
	for (size_t i = 0; i < m->npackets; i++)
		fprintf(f, "packet: %s %s\n", m->packets[i].id, m->packets[i].path);
	for (size_t i = 0; i < m->nmissing; i++)
		fprintf(f, "missing: %s\n", m->missing[i]);
	fprintf(f, "files: %zu\n\n", m->nfiles);
	for (size_t i = 0; i < m->nfiles; i++)
		fprintf(f, "%s %lld %s\n", m->files[i].sha256, m->files[i].size, m->files[i].path);
	fclose(f);
	*len = n;
	return buf;
}

static int is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (; *s; s++)
		if (!strchr("0123456789abcdef", *s))
			return 0;
	return 1;
}

int manifest_parse(struct manifest *m, const char *buf, size_t len, char *why, size_t n)
{
	char *text, *line, *save = NULL;
	long long nfiles = -1;
	int lineno = 0, body = 0, ret = -1;

	manifest_init(m);
	if (memchr(buf, '\0', len)) {
		snprintf(why, n, "manifest holds a NUL byte");
		return -1;
	}
	text = xmalloc(len + 1);
	memcpy(text, buf, len);
	text[len] = '\0';
	if (!len || text[len - 1] != '\n') {
		snprintf(why, n, "manifest does not end with a newline");
		goto out;
	}
	/* strtok_r would merge the blank separator line; walk lines by hand */
	for (line = text; *line; line = save) {
		char *nl = strchr(line, '\n');
		char *v;

		*nl = '\0';
		save = nl + 1;
		lineno++;
		if (lineno == 1) {
			if (strcmp(line, MAGIC)) {
				snprintf(why, n, "not an esia-batch manifest (line 1)");
				goto out;
			}
			continue;
		}
		if (body) {
			char sha[65], *sp, *sp2;
			long long size;

			sp = strchr(line, ' ');
			sp2 = sp ? strchr(sp + 1, ' ') : NULL;
			if (!sp || !sp2 || sp - line != 64) {
				snprintf(why, n, "manifest line %d is not \"sha256 size path\"", lineno);
				goto out;
			}
			memcpy(sha, line, 64);
			sha[64] = '\0';
			*sp2 = '\0';
			if (!is_hex64(sha) || parse_int(sp + 1, &size) || size < 0) {
				snprintf(why, n, "manifest line %d is not \"sha256 size path\"", lineno);
				goto out;
			}
			if (manifest_find(m, sp2 + 1)) {
				snprintf(why, n, "manifest line %d repeats \"%s\"", lineno, sp2 + 1);
				goto out;
			}
			if (manifest_add_file(m, sp2 + 1, size, sha)) {
				snprintf(why, n, "manifest line %d has a bad path", lineno);
				goto out;
			}
			continue;
		}
		if (!*line) {
			body = 1;
			continue;
		}
		v = strstr(line, ": ");
		if (!v) {
			snprintf(why, n, "manifest line %d is not \"key: value\"", lineno);
			goto out;
		}
		*v = '\0';
		v += 2;
		if (!strcmp(line, "seq") && !m->seq && !parse_int(v, &m->seq) && m->seq > 0)
			continue;
		if (!strcmp(line, "batch") && !m->batch && !parse_int(v, &m->batch) && m->batch > 0)
			continue;
		if (!strcmp(line, "job") && !m->job) {
			m->job = xstrdup(v);
			continue;
		}
		if (!strcmp(line, "finished") && !m->finished) {
			m->finished = xstrdup(v);
			continue;
		}
		if (!strcmp(line, "created") && !m->created) {
			m->created = xstrdup(v);
			continue;
		}
		if (!strcmp(line, "prev") && (is_hex64(v) || !strcmp(v, "none"))) {
			snprintf(m->prev, sizeof(m->prev), "%s", v);
			continue;
		}
		if (!strcmp(line, "packet")) {
			char *sp = strchr(v, ' ');

			if (sp && sp[1]) {
				*sp = '\0';
				manifest_add_packet(m, v, sp + 1);
				continue;
			}
		}
		if (!strcmp(line, "missing") && *v) {
			manifest_add_missing(m, v);
			continue;
		}
		if (!strcmp(line, "files") && nfiles < 0 && !parse_int(v, &nfiles) && nfiles >= 0)
			continue;
		snprintf(why, n, "manifest line %d: bad or repeated \"%s\"", lineno, line);
		goto out;
	}
	if (!body || !m->seq || !m->batch || !m->job || !m->finished || !m->created || nfiles < 0) {
		snprintf(why, n, "manifest header is incomplete");
		goto out;
	}
	if ((size_t)nfiles != m->nfiles) {
		snprintf(why, n, "manifest says %lld files but lists %zu", nfiles, m->nfiles);
		goto out;
	}
	ret = 0;
out:
	free(text);
	if (ret)
		manifest_release(m);
	return ret;
}

const struct manifest_file *manifest_find(const struct manifest *m, const char *path)
{
	for (size_t i = 0; i < m->nfiles; i++)
		if (!strcmp(m->files[i].path, path))
			return &m->files[i];
	return NULL;
}

const char *manifest_agency(const char *path, char *buf, size_t n)
{
	const char *s = strchr(path, '/'), *e;

	buf[0] = '\0';
	if (!s || !strncmp(path, "print/", 6))
		return buf;
	e = strchr(s + 1, '/');
	if (e && (size_t)(e - s - 1) < n)
		snprintf(buf, n, "%.*s", (int)(e - s - 1), s + 1);
	return buf;
}

static void hex(const unsigned char *d, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
	out[2 * n] = '\0';
}

void sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;

	EVP_Digest(buf, len, d, &dn, EVP_sha256(), NULL);
	hex(d, dn, out);
}

int sha256_file(const char *path, char out[65], long long *size)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char d[EVP_MAX_MD_SIZE], buf[65536];
	unsigned dn = 0;
	long long total = 0;
	int fd = -1, ret = -1;
	ssize_t k;

	if (!md)
		return error("out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		error("cannot open \"%s\": %s", path, strerror(errno));
		goto out;
	}
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((k = read(fd, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(md, buf, k);
		total += k;
	}
	if (k < 0) {
		error("cannot read \"%s\": %s", path, strerror(errno));
		goto out;
	}
	EVP_DigestFinal_ex(md, d, &dn);
	hex(d, dn, out);
	if (size)
		*size = total;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(md);
	return ret;
}

void strlist_add(struct strlist *l, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(char *));
	l->v[l->n++] = s;
}

void strlist_release(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

char *strlist_join(const struct strlist *l, const char *sep)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->v[i]) + strlen(sep);
	s = xmalloc(len);
	s[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			strcat(s, sep);
		strcat(s, l->v[i]);
	}
	return s;
}

struct arc_reader {
	struct archive *a;
	struct unpack *u; /* the decompressor, a's source */
	char *path;
};

void arc_close(struct arc_reader *r)
{
	if (!r)
		return;
	archive_read_free(r->a);
	unpack_free(r->u);
	free(r->path);
	free(r);
}

/* A member is a plain file or nothing: tar -x would make a hard link or a
 * symlink of any other entry (whatever bytes it carries), so the auditor
 * would get another file's content under this name. NULL if plain. */
static const char *not_plain(struct archive_entry *e)
{
	if (archive_entry_hardlink(e))
		return "a hard link";
	if (archive_entry_symlink(e) || archive_entry_filetype(e) == AE_IFLNK)
		return "a symbolic link";
	if (archive_entry_filetype(e) != AE_IFREG)
		return "not a regular file";
	return NULL;
}

/* Read the current member whole (at most max bytes). */
static int read_member(struct arc_reader *r, size_t max, char **buf, size_t *len, const char *name)
{
	size_t cap = 65536, n = 0;
	char *b = xmalloc(cap);
	la_ssize_t k;

	for (;;) {
		if (n == cap) {
			if (cap >= max + 1)
				break;
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			b = xrealloc(b, cap);
		}
		k = archive_read_data(r->a, b + n, cap - n);
		if (k < 0) {
			error("cannot read \"%s\" in \"%s\": %s", name, r->path,
			      archive_error_string(r->a));
			free(b);
			return -1;
		}
		if (k == 0)
			break;
		n += k;
	}
	if (n > max) {
		error("\"%s\" in \"%s\" is larger than %zu bytes", name, r->path, max);
		free(b);
		return -1;
	}
	*buf = b;
	*len = n;
	return 0;
}

struct arc_reader *arc_open(const char *path, char **mtext, size_t *mlen, unsigned char **sig,
			    size_t *siglen, char *why, size_t n)
{
	struct arc_reader *r = xcalloc(1, sizeof(*r));
	struct archive_entry *e;
	const char *want[2] = { MANIFEST_NAME, MANIFEST_SIG_NAME };
	char *bufs[2] = { NULL, NULL };
	size_t lens[2] = { 0, 0 };

	r->path = xstrdup(path);
	r->a = archive_read_new();
	archive_read_support_format_tar(r->a);
	r->u = unpack_open(r->a, path, why, n);
	if (!r->u)
		goto fail;
	for (int i = 0; i < 2; i++) {
		int rc = archive_read_next_header(r->a, &e);

		if (rc != ARCHIVE_OK) {
			snprintf(why, n, "cannot read %s: %s", want[i],
				 rc == ARCHIVE_EOF ? "archive ends" : archive_error_string(r->a));
			goto fail;
		}
		if (strcmp(archive_entry_pathname(e), want[i])) {
			snprintf(why, n, "member %d is \"%s\", expected %s", i + 1,
				 archive_entry_pathname(e), want[i]);
			goto fail;
		}
		if (not_plain(e)) {
			snprintf(why, n, "%s is %s", want[i], not_plain(e));
			goto fail;
		}
		if (read_member(r, MANIFEST_MAX_BYTES, &bufs[i], &lens[i], want[i])) {
			snprintf(why, n, "cannot read %s", want[i]);
			goto fail;
		}
	}
	*mtext = bufs[0];
	*mlen = lens[0];
	*sig = (unsigned char *)bufs[1];
	*siglen = lens[1];
	return r;
fail:
	free(bufs[0]);
	free(bufs[1]);
	arc_close(r);
	return NULL;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

#define REST " (the rest of the archive is not read)"

int arc_check_members(struct arc_reader *r, const struct manifest *m, arc_member_fn fn,
		      void *arg, struct strlist *fails)
{
	char *seen = xcalloc(m->nfiles + 1, 1);
	struct archive_entry *e;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc, ret = -1;

	if (!md)
		abort();
	while ((rc = archive_read_next_header(r->a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		const struct manifest_file *f = manifest_find(m, name);
		unsigned char d[EVP_MAX_MD_SIZE];
		char sha[65], *buf = NULL;
		size_t len = 0;
		unsigned dn = 0;
		int hash_ok;

		/* A member the signed MANIFEST does not vouch for, or bigger than it
		 * says, stops the reading: skipping it would still decompress it
		 * all (a bomb of zeros), and what follows proves nothing more. */
		if (!f) {
			strlist_add(fails, "file %s is not in the MANIFEST%s", name, REST);
			goto stop;
		}
		if (seen[f - m->files]++) {
			strlist_add(fails, "file %s appears twice%s", name, REST);
			goto stop;
		}
		if (not_plain(e)) {
			strlist_add(fails, "file %s is %s%s%s%s", name, not_plain(e),
				    archive_entry_hardlink(e) ? " to " : "",
				    archive_entry_hardlink(e) ? archive_entry_hardlink(e) : "", REST);
			goto stop;
		}
		if (archive_entry_size_is_set(e) && archive_entry_size(e) != f->size) {
			strlist_add(fails, "file %s size %lld, MANIFEST says %lld%s", name,
				    (long long)archive_entry_size(e), f->size, REST);
			goto stop;
		}
		if (ends_with(name, ".xml") && f->size <= MANIFEST_MAX_BYTES) {
			if (read_member(r, MANIFEST_MAX_BYTES, &buf, &len, name)) {
				strlist_add(fails, "file %s cannot be read", name);
				goto out;
			}
			sha256_hex(buf, len, sha);
		} else {
			char chunk[65536];
			la_ssize_t k;

			EVP_DigestInit_ex(md, EVP_sha256(), NULL);
			while ((k = archive_read_data(r->a, chunk, sizeof(chunk))) > 0) {
				EVP_DigestUpdate(md, chunk, k);
				len += k;
			}
			if (k < 0) {
				strlist_add(fails, "file %s cannot be read: %s", name,
					    archive_error_string(r->a));
				goto out;
			}
			EVP_DigestFinal_ex(md, d, &dn);
			hex(d, dn, sha);
		}
		hash_ok = (long long)len == f->size && !strcmp(sha, f->sha256);
		if ((long long)len != f->size)
			strlist_add(fails, "file %s size %zu, MANIFEST says %lld", name, len, f->size);
		else if (!hash_ok)
			strlist_add(fails, "file %s sha256 mismatch", name);
		if (fn)
			fn(arg, name, buf, len, hash_ok);
		free(buf);
	}
	if (rc != ARCHIVE_EOF) {
		strlist_add(fails, "archive unreadable: %s", archive_error_string(r->a));
		goto out;
	}
	{
		char why[200];

		/* members hidden behind the end marker are what tar -i extracts */
		if (unpack_end_ok(r->a, r->u, why, sizeof(why)))
			strlist_add(fails, "%s", why);
	}
	for (size_t i = 0; i < m->nfiles; i++)
		if (!seen[i])
			strlist_add(fails, "file %s is in the MANIFEST but not in the archive",
				    m->files[i].path);
stop:
	ret = 0;
out:
	EVP_MD_CTX_free(md);
	free(seen);
	return ret;
}

int arc_extract(struct arc_reader *r, const char *member, size_t max, char **buf, size_t *len,
		char sha[65])
{
	struct archive_entry *e;
	int rc;

	while ((rc = archive_read_next_header(r->a, &e)) == ARCHIVE_OK) {
		if (strcmp(archive_entry_pathname(e), member)) {
			archive_read_data_skip(r->a);
			continue;
		}
		if (not_plain(e))
			return error("\"%s\" in \"%s\" is %s", member, r->path, not_plain(e));
		if (read_member(r, max, buf, len, member))
			return -1;
		sha256_hex(*buf, *len, sha);
		return 0;
	}
	if (rc != ARCHIVE_EOF)
		return error("cannot read \"%s\": %s", r->path, archive_error_string(r->a));
	return 1;
}
