/* esia-batch archive: finished batches' files -> signed, hash-chained archives.
 *
 * Per batch, in id order, under the exclusive job lock (the chain is serial):
 *   collect the files (packets rows + spool layout) -> hash them -> MANIFEST
 *   (+ previous archive's SHA-256) -> CMS signature -> write
 *   archive/YYYY/MM/<batch>.tar.xz atomically -> read it back and check every
 *   hash -> record it (archives row + audit event, one transaction) -> remove
 *   the originals -> mark the archive cleaned.
 * A run killed anywhere leaves the originals, or a recorded archive whose
 * originals the next run removes (only files whose hash matches the archive,
 * and only while the archive is the recorded one, intact). An archive file
 * written but not recorded is removed by the next run before it writes one
 * (drop_unrecorded): it would claim the next chain position.
 *
 * Which files belong to a batch:
 *   export-checks     outbox/<agency>/<file_name> of its request packets rows;
 *   import-responses  processed/<agency>/<file_name> of its response packets
 *                     rows, and any rejected/<agency>/NAME whose NAME.reason
 *                     has the third line "batch: <id>" (with or without a
 *                     row: a name in rejected/ may belong to a later batch);
 *   print-letters     everything under print/<batch id>/.
 *
 * Held back until it may leave (HELD_CODES, HELD_UPLOAD): a print batch with
 * a code that can still be redeemed, an export batch with a packet not yet
 * uploaded.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "atomic.h"
#include "cms.h"
#include "db.h"
#include "esia-batch.h"
#include "fault.h"
#include "ledger.h"
#include "log.h"
#include "manifest.h"
#include "progress.h"
#include "rejected.h"

static const char usage[] = "esia-batch archive [--older-than DAYS]";

static const char help[] =
	"usage: esia-batch archive [--older-than DAYS]\n"
	"\n"
	"Pack the files of finished batches (export-checks, import-responses,\n"
	"print-letters; succeeded, failed, partial or abandoned) into\n"
	"ARCHIVE/YYYY/MM/<batch>.tar.xz (or .tar.zst), one archive per batch, in\n"
	"batch id order. Each archive holds MANIFEST (batch, job, chain position,\n"
	"SHA-256 of the previous archive, size and SHA-256 of every file),\n"
	"MANIFEST.p7s (detached CMS signature made with [signer] key/cert) and the\n"
	"files. The archive is written atomically, read back and checked, recorded\n"
	"in the database, and only then are the original files removed.\n"
	"\n"
	"A print-letters batch is held back while any activation code printed in it\n"
	"can still be redeemed (until each is used, revoked, blocked or expired);\n"
	"an export-checks batch while a packet of it waits to be uploaded to an\n"
	"agency with upload_url (status written).\n"
	"The log line archive.held counts the batches held back.\n"
	"\n"
	"  --older-than DAYS  only batches finished at least DAYS days ago\n"
	"                     (default: [archive] older_than)\n"
	"\n"
	"Config: [spool] archive, [archive] compression (xz|zstd), [archive] older_than,\n"
	"[archive] trust_anchor (if set, the new signature is checked against it),\n"
	"[signer] key, cert, chain.\n"
	"\n"
	"Exit: 0 done or nothing to do, 1 failed, 2 usage, 75 another archive run\n"
	"holds the lock or the database is unreachable.\n";

static const char *const spool_names[] = { "outbox", "processed", "rejected", "print" };

struct item {
	char *rel;       /* path inside the archive, relative to the spool root */
	char *abs;       /* where it is now */
	char *packet_id; /* packets.id, if the file is a packet with a row */
};

struct items {
	struct item *v;
	size_t n;
};

struct run {
	PGconn *c;
	struct config *cfg;
	char *dir;  /* archive folder */
	char *spool[4];
	const char *ext;
	char *key;
	size_t keylen;
	const char *cert, *chain, *trust;
	struct batch b;
};

static void items_add(struct items *it, const char *rel, const char *abs, const char *packet_id)
{
	for (size_t i = 0; i < it->n; i++)
		if (!strcmp(it->v[i].rel, rel))
			return;
	it->v = xrealloc(it->v, (it->n + 1) * sizeof(*it->v));
	it->v[it->n].rel = xstrdup(rel);
	it->v[it->n].abs = xstrdup(abs);
	it->v[it->n].packet_id = packet_id ? xstrdup(packet_id) : NULL;
	it->n++;
}

static void items_release(struct items *it)
{
	for (size_t i = 0; i < it->n; i++) {
		free(it->v[i].rel);
		free(it->v[i].abs);
		free(it->v[i].packet_id);
	}
	free(it->v);
	it->v = NULL;
	it->n = 0;
}

static int is_file(const char *path)
{
	struct stat st;

	return !lstat(path, &st) && S_ISREG(st.st_mode);
}

/* "outbox/pfr/x.xml" -> the configured outbox folder + "/pfr/x.xml". */
static char *spool_path(struct run *R, const char *rel)
{
	for (size_t i = 0; i < sizeof(spool_names) / sizeof(spool_names[0]); i++) {
		size_t k = strlen(spool_names[i]);

		if (!strncmp(rel, spool_names[i], k) && rel[k] == '/')
			return xasprintf("%s%s", R->spool[i], rel + k);
	}
	return NULL;
}

/* Try one candidate file: add it when present. */
static int try_add(struct items *it, struct run *R, const char *rel, const char *packet_id)
{
	char *abs = spool_path(R, rel);
	int found = abs && is_file(abs);

	if (found)
		items_add(it, rel, abs, packet_id);
	free(abs);
	return found;
}

/* The base name a packets row gives, refusing anything that could walk out. */
static const char *row_name(const char *file_name)
{
	const char *s = strrchr(file_name, '/');

	s = s ? s + 1 : file_name;
	return *s && *s != '.' ? s : NULL;
}

static int collect_packets(struct run *R, long long id, const char *job, struct items *it,
			   struct manifest *m)
{
	char ids[24];
	const char *p[2] = { ids, !strcmp(job, "export-checks") ? "request" : "response" };
	PGresult *r;

	snprintf(ids, sizeof(ids), "%lld", id);
	r = db_query(R->c, "SELECT id, agency, file_name FROM packets"
			   " WHERE batch_id = $1::bigint AND direction = $2 ORDER BY file_name, id",
		     2, p);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *pid = PQgetvalue(r, i, 0), *ag = PQgetvalue(r, i, 1);
		const char *name = row_name(PQgetvalue(r, i, 2));
		char *rel;
		int found = 0;

		if (!name) {
			warning("packet %s has an unusable file name \"%s\"; not archived", pid,
				PQgetvalue(r, i, 2));
			manifest_add_missing(m, PQgetvalue(r, i, 2));
			continue;
		}
		if (!strcmp(p[1], "request")) {
			rel = xasprintf("outbox/%s/%s", ag, name);
			found = try_add(it, R, rel, pid);
		} else {
			char *why;

			rel = xasprintf("processed/%s/%s", ag, name);
			found = try_add(it, R, rel, pid);
			free(rel);
			/* rejected/ names are reused by later batches: the file is this
			 * batch's only when its .reason says so */
			rel = xasprintf("rejected/%s/%s.reason", ag, name);
			why = spool_path(R, rel);
			if (why && rejected_reason_names(why, id)) {
				char *file = xasprintf("rejected/%s/%s", ag, name);

				found |= try_add(it, R, file, found ? NULL : pid);
				try_add(it, R, rel, NULL);
				free(file);
			}
			free(why);
		}
		if (!found) {
			log_event(LOG_LVL_WARN, "archive.missing", "packet=%s file=%s/%s", pid, ag, name);
			free(rel);
			rel = xasprintf("%s/%s/%s", strcmp(p[1], "request") ? "processed" : "outbox", ag,
					name);
			manifest_add_missing(m, rel);
		}
		free(rel);
	}
	PQclear(r);
	return 0;
}

struct rejected_ctx {
	struct run *R;
	struct items *it;
};

static int add_rejected(const char *agency, const char *name, void *arg)
{
	struct rejected_ctx *x = arg;
	char *rel = xasprintf("rejected/%s/%s", agency, name);

	try_add(x->it, x->R, rel, NULL);
	free(rel);
	rel = xasprintf("rejected/%s/%s.reason", agency, name);
	try_add(x->it, x->R, rel, NULL);
	free(rel);
	return 0;
}

/* Rejected files with no packets row: rejected/<agency>/NAME.reason says "batch: <id>". */
static int collect_rejected(struct run *R, long long id, struct items *it)
{
	struct rejected_ctx x = { R, it };

	return rejected_of_batch(R->spool[2], id, add_rejected, &x);
}

/* Every regular file under dir (sorted, recursive), as rel/... */
static int collect_tree(const char *dir, const char *rel, struct items *it, int depth)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort), ret = 0;

	if (n < 0)
		return errno == ENOENT ? 0 : error("cannot open \"%s\": %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		char *abs = xasprintf("%s/%s", dir, nm), *r = xasprintf("%s/%s", rel, nm);
		struct stat st;

		if (nm[0] != '.' && !ret && !lstat(abs, &st)) {
			if (S_ISDIR(st.st_mode) && depth < 8)
				ret = collect_tree(abs, r, it, depth + 1);
			else if (S_ISREG(st.st_mode))
				items_add(it, r, abs, NULL);
		}
		free(abs);
		free(r);
		free(names[i]);
	}
	free(names);
	return ret;
}

static int collect(struct run *R, long long id, const char *job, struct items *it,
		   struct manifest *m)
{
	if (!strcmp(job, "print-letters")) {
		char *dir = xasprintf("%s/%lld", R->spool[3], id), *rel = xasprintf("print/%lld", id);
		int ret = collect_tree(dir, rel, it, 0);

		free(dir);
		free(rel);
		return ret;
	}
	if (collect_packets(R, id, job, it, m))
		return -1;
	if (!strcmp(job, "import-responses"))
		return collect_rejected(R, id, it);
	return 0;
}

static int add_member(struct archive *a, const char *name, const void *buf, size_t len, time_t mt)
{
	struct archive_entry *e = archive_entry_new();
	int ret = 0;

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, mt, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK ||
	    (len && archive_write_data(a, buf, len) != (la_ssize_t)len))
		ret = error("cannot add \"%s\" to the archive: %s", name, archive_error_string(a));
	archive_entry_free(e);
	return ret;
}

/* Stream one original into the archive, hashing it again on the way: a file
 * changed since the manifest was made is an error. */
static int add_file(struct archive *a, const struct item *item, const struct manifest_file *mf)
{
	struct archive_entry *e = archive_entry_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char d[EVP_MAX_MD_SIZE];
	char buf[65536], sha[65];
	unsigned dn = 0;
	long long total = 0;
	struct stat st;
	int fd = -1, ret = -1;
	ssize_t k;

	if (!md)
		abort();
	fd = open(item->abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		error("cannot open \"%s\": %s", item->abs, strerror(errno));
		goto out;
	}
	archive_entry_set_pathname(e, item->rel);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_size(e, mf->size);
	archive_entry_set_mtime(e, st.st_mtime, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK) {
		error("cannot add \"%s\" to the archive: %s", item->rel, archive_error_string(a));
		goto out;
	}
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((k = read(fd, buf, sizeof(buf))) > 0) {
		if (total + k > mf->size)
			break;
		EVP_DigestUpdate(md, buf, k);
		total += k;
		if (archive_write_data(a, buf, k) != k) {
			error("cannot add \"%s\" to the archive: %s", item->rel, archive_error_string(a));
			goto out;
		}
	}
	if (k < 0) {
		error("cannot read \"%s\": %s", item->abs, strerror(errno));
		goto out;
	}
	EVP_DigestFinal_ex(md, d, &dn);
	for (unsigned i = 0; i < dn; i++)
		sprintf(sha + 2 * i, "%02x", d[i]);
	if (k > 0 || total != mf->size || strcmp(sha, mf->sha256)) {
		error("\"%s\" changed while it was being archived", item->abs);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(md);
	archive_entry_free(e);
	return ret;
}

static int write_archive(struct run *R, const char *path, const char *mtext, size_t mlen,
			 const unsigned char *sig, size_t siglen, const struct manifest *m,
			 const struct items *it)
{
	struct atomic_file af = { 0 };
	struct archive *a = NULL;
	time_t now = time(NULL);
	int ret = -1;

	if (atomic_open(&af, path, 0600))
		return -1;
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if ((!strcmp(R->ext, "zst") ? archive_write_add_filter_zstd(a)
				    : archive_write_add_filter_xz(a)) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open_FILE(a, af.fp) != ARCHIVE_OK) {
		error("cannot start \"%s\": %s", path, archive_error_string(a));
		goto out;
	}
	if (add_member(a, MANIFEST_NAME, mtext, mlen, now) ||
	    add_member(a, MANIFEST_SIG_NAME, sig, siglen, now))
		goto out;
	for (size_t i = 0; i < it->n; i++) {
		if (add_file(a, &it->v[i], &m->files[i]))
			goto out;
		fault_point("archive.during_write");
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		error("cannot finish \"%s\": %s", path, archive_error_string(a));
		goto out;
	}
	archive_write_free(a);
	a = NULL;
	ret = atomic_commit(&af);
out:
	if (a)
		archive_write_free(a);
	if (ret)
		atomic_abort(&af);
	return ret;
}

/* Read the archive back: MANIFEST and its signature byte for byte, every
 * file's size and hash, nothing missing or extra. */
static int read_back(struct run *R, const char *path, const char *mtext, size_t mlen,
		     const unsigned char *sig, size_t siglen, const struct manifest *m)
{
	struct strlist fails = { 0 };
	struct arc_reader *r;
	char *gotm = NULL, why[300], *all;
	unsigned char *gots = NULL;
	size_t gotml = 0, gotsl = 0;
	int ret = -1;

	r = arc_open(path, &gotm, &gotml, &gots, &gotsl, why, sizeof(why));
	if (!r)
		return error("archive \"%s\" does not read back: %s", path, why);
	if (gotml != mlen || memcmp(gotm, mtext, mlen))
		strlist_add(&fails, "MANIFEST differs");
	if (gotsl != siglen || memcmp(gots, sig, siglen))
		strlist_add(&fails, "MANIFEST.p7s differs");
	arc_check_members(r, m, NULL, NULL, &fails);
	if (R->trust && *R->trust && cms_verify(sig, siglen, mtext, mlen, R->trust, 0,
						cfg_str(R->cfg, "signer", "sender"), NULL, 0, why,
						sizeof(why)))
		strlist_add(&fails, "MANIFEST.p7s: %s (check [signer] against [archive] trust_anchor)", why);
	if (fails.n) {
		all = strlist_join(&fails, "; ");
		error("archive \"%s\" failed its read-back check: %s", path, all);
		free(all);
		goto out;
	}
	ret = 0;
out:
	strlist_release(&fails);
	free(gotm);
	free(gots);
	arc_close(r);
	return ret;
}

/* Remove empty folders under dir, deepest first, then dir itself. */
static void prune(const char *dir)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, NULL);

	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
			char *sub = xasprintf("%s/%s", dir, names[i]->d_name);
			struct stat st;

			if (!lstat(sub, &st) && S_ISDIR(st.st_mode))
				prune(sub);
			free(sub);
		}
		free(names[i]);
	}
	free(names);
	if (rmdir(dir) && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
		warning("cannot remove folder \"%s\": %s", dir, strerror(errno));
}

/* Remove the originals the archive holds: only a file whose content is still
 * what was archived; anything else is left with a warning. Then record it. */
static int remove_originals(struct run *R, long long id, const char *job,
			    const struct manifest *m)
{
	char ids[24], *lastdir = NULL;
	const char *p[1] = { ids };
	int ret = 0, kept = 0;

	for (size_t i = 0; i < m->nfiles; i++) {
		char *abs = spool_path(R, m->files[i].path), sha[65], *copy, *dir;
		long long size;

		if (!abs || !is_file(abs)) {
			free(abs);
			continue;
		}
		if (sha256_file(abs, sha, &size) || size != m->files[i].size ||
		    strcmp(sha, m->files[i].sha256)) {
			warning("\"%s\" differs from its archived copy; left in place", abs);
			kept++;
		} else if (unlink(abs)) {
			ret = error("cannot remove \"%s\": %s", abs, strerror(errno));
		}
		copy = xstrdup(abs);
		dir = dirname(copy);
		if (!lastdir || strcmp(lastdir, dir)) {
			if (lastdir)
				fsync_dir(lastdir);
			free(lastdir);
			lastdir = xstrdup(dir);
		}
		free(copy);
		free(abs);
	}
	if (lastdir)
		fsync_dir(lastdir);
	free(lastdir);
	if (!strcmp(job, "print-letters")) {
		char *dir = xasprintf("%s/%lld", R->spool[3], id);

		prune(dir);
		free(dir);
	}
	if (ret)
		return -1;
	snprintf(ids, sizeof(ids), "%lld", id);
	if (db_exec(R->c, "UPDATE archives SET cleaned_at = now() WHERE batch_id = $1::bigint", 1, p))
		return -1;
	if (kept)
		log_event(LOG_LVL_WARN, "archive.kept", "archived_batch=%lld files=%d", id, kept);
	return 0;
}

/* The archive at path is the one recorded (sha256 as in archives) and every
 * member matches its MANIFEST: only then may its originals go. Returns 0, or
 * -1 with the error printed and m left parsed or not. */
static int check_recorded(const char *path, long long id, const char *want,
			  struct manifest *m)
{
	struct strlist fails = { 0 };
	struct arc_reader *ar = NULL;
	char sha[65], why[300], *mtext = NULL, *all;
	unsigned char *sig = NULL;
	size_t mlen = 0, siglen = 0;
	int ret = -1;

	if (sha256_file(path, sha, NULL))
		goto out;
	if (strcmp(sha, want)) {
		error("archive \"%s\" of batch %lld is not the one recorded (sha256 %s, recorded %s)",
		      path, id, sha, want);
		goto out;
	}
	ar = arc_open(path, &mtext, &mlen, &sig, &siglen, why, sizeof(why));
	if (!ar) {
		error("archive \"%s\" of batch %lld cannot be read: %s", path, id, why);
		goto out;
	}
	if (manifest_parse(m, mtext, mlen, why, sizeof(why))) {
		error("archive \"%s\": %s", path, why);
		goto out;
	}
	arc_check_members(ar, m, NULL, NULL, &fails);
	if (fails.n) {
		all = strlist_join(&fails, "; ");
		error("archive \"%s\" of batch %lld failed its check: %s", path, id, all);
		free(all);
		goto out;
	}
	ret = 0;
out:
	strlist_release(&fails);
	arc_close(ar);
	free(mtext);
	free(sig);
	return ret;
}

/* A run died after recording an archive but before removing its originals:
 * finish that now, from the archive's own MANIFEST, but only once the file is
 * the recorded one and holds every file intact: the originals may be the
 * only good copy. */
static int finish_cleanups(struct run *R)
{
	PGresult *r = db_query(R->c,
		"SELECT a.batch_id, a.path, b.job, a.sha256 FROM archives a"
		" JOIN batches b ON b.id = a.batch_id WHERE a.cleaned_at IS NULL ORDER BY a.seq",
		0, NULL);
	int ret = 0;

	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r) && !ret; i++) {
		char *path = xasprintf("%s/%s", R->dir, PQgetvalue(r, i, 1));
		long long id = atoll(PQgetvalue(r, i, 0));
		struct manifest m;

		manifest_init(&m);
		if (check_recorded(path, id, PQgetvalue(r, i, 3), &m))
			ret = error("originals of batch %lld kept: put the recorded archive back at"
				    " \"%s\" (a copy; `esia-batch audit verify` checks it) and run"
				    " archive again", id, path);
		else if (!(ret = remove_originals(R, id, PQgetvalue(r, i, 2), &m)))
			log_event(LOG_LVL_INFO, "archive.cleanup", "archived_batch=%lld files=%zu", id,
				  m.nfiles);
		manifest_release(&m);
		free(path);
	}
	PQclear(r);
	return ret;
}

static void utc_now(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int archive_batch(struct run *R, long long id, const char *job, const char *finished,
			 const char *ym)
{
	struct items it = { 0 };
	struct manifest m;
	char created[32], ids[24], seqs[24], nfiles[24], asha[65];
	char *mtext = NULL, *rel = NULL, *path = NULL, *dir = NULL;
	unsigned char *sig = NULL;
	size_t mlen = 0, siglen = 0;
	PGresult *r = NULL;
	int ret = -1;

	manifest_init(&m);
	if (collect(R, id, job, &it, &m))
		goto out;
	for (size_t i = 0; i < it.n; i++) {
		char sha[65];
		long long size;

		if (sha256_file(it.v[i].abs, sha, &size) ||
		    manifest_add_file(&m, it.v[i].rel, size, sha))
			goto out;
		if (it.v[i].packet_id)
			manifest_add_packet(&m, it.v[i].packet_id, it.v[i].rel);
	}
	r = db_query(R->c, "SELECT seq, sha256 FROM archives ORDER BY seq DESC LIMIT 1", 0, NULL);
	if (!r)
		goto out;
	m.seq = PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) + 1 : 1;
	if (PQntuples(r))
		snprintf(m.prev, sizeof(m.prev), "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	r = NULL;
	utc_now(created, sizeof(created));
	m.batch = id;
	m.job = xstrdup(job);
	m.finished = xstrdup(finished);
	m.created = xstrdup(created);
	mtext = manifest_format(&m, &mlen);
	if (cms_sign(R->key, R->keylen, R->cert, R->chain, mtext, mlen, &sig, &siglen))
		goto out;

	rel = xasprintf("%s/%lld.tar.%s", ym, id, R->ext);
	path = xasprintf("%s/%s", R->dir, rel);
	dir = xasprintf("%s/%s", R->dir, ym);
	if (mkdir_p(dir, 0700))
		goto out;
	atomic_sweep(dir);
	if (write_archive(R, path, mtext, mlen, sig, siglen, &m, &it))
		goto out;
	fault_point("archive.after_write");
	if (read_back(R, path, mtext, mlen, sig, siglen, &m) || sha256_file(path, asha, NULL))
		goto out;

	snprintf(ids, sizeof(ids), "%lld", id);
	snprintf(seqs, sizeof(seqs), "%lld", m.seq);
	snprintf(nfiles, sizeof(nfiles), "%zu", m.nfiles);
	{
		const char *p[6] = { ids, rel, asha, strcmp(m.prev, "none") ? m.prev : NULL, nfiles, seqs };
		const char *q[5] = { ids, rel, asha, nfiles, seqs };

		if (db_begin(R->c) ||
		    db_exec(R->c, "INSERT INTO archives (batch_id, path, sha256, prev_sha256, files, seq)"
				  " VALUES ($1::bigint, $2, $3, $4, $5::int, $6::int)", 6, p) ||
		    db_exec(R->c, "INSERT INTO audit_events (event, batch_id, details) VALUES"
				  " ('archived', $1::bigint, jsonb_build_object('archive', $2::text,"
				  " 'sha256', $3::text, 'files', $4::int, 'seq', $5::int))", 5, q) ||
		    db_commit(R->c)) {
			db_rollback(R->c);
			goto out;
		}
	}
	fault_point("archive.after_commit");
	log_event(LOG_LVL_INFO, "archive.written", "archived_batch=%lld job=%s path=%s files=%zu seq=%lld sha256=%s",
		  id, job, rel, m.nfiles, m.seq, asha);
	if (remove_originals(R, id, job, &m))
		goto out;
	R->b.records += m.nfiles;
	if (log_verbosity() >= 0)
		printf("archived batch %lld (%s, %zu file%s%s) -> %s\n", id, job, m.nfiles,
		       m.nfiles == 1 ? "" : "s", m.nmissing ? ", some missing" : "", rel);
	ret = 0;
out:
	if (ret && path) {
		/* an archive that did not pass, or was not recorded, must not stay */
		char *have = NULL;
		const char *p[1] = { ids };

		snprintf(ids, sizeof(ids), "%lld", id);
		have = db_scalar(R->c, "SELECT count(*) FROM archives WHERE batch_id = $1::bigint", 1, p);
		if (have && !strcmp(have, "0"))
			unlink(path);
		free(have);
	}
	PQclear(r);
	items_release(&it);
	manifest_release(&m);
	free(mtext);
	free(sig);
	free(rel);
	free(path);
	free(dir);
	return ret;
}

static int digits(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789") == n;
}

/* Calls fn(rel "YYYY/MM", abs, arg) for each ARCHIVE/YYYY/MM folder, in
 * order; the first non-zero return stops the walk and is returned. */
static int each_month(const char *dir, int (*fn)(const char *rel, const char *abs, void *arg),
		      void *arg)
{
	struct dirent **years = NULL;
	int ny = scandir(dir, &years, NULL, alphasort), ret = 0;

	for (int i = 0; i < ny; i++) {
		char *y = xasprintf("%s/%s", dir, years[i]->d_name);
		struct dirent **months = NULL;
		int nm = !ret && digits(years[i]->d_name, 4) ? scandir(y, &months, NULL, alphasort) : 0;

		for (int j = 0; j < nm; j++) {
			if (!ret && digits(months[j]->d_name, 2)) {
				char *rel = xasprintf("%s/%s", years[i]->d_name, months[j]->d_name);
				char *abs = xasprintf("%s/%s", dir, rel);

				ret = fn(rel, abs, arg);
				free(abs);
				free(rel);
			}
			free(months[j]);
		}
		free(months);
		free(y);
		free(years[i]);
	}
	free(years);
	return ret;
}

static int sweep_month(const char *rel, const char *abs, void *arg)
{
	(void)rel, (void)arg;
	atomic_sweep(abs);
	return 0;
}

/* Temporaries of writers that died: ARCHIVE/ and ARCHIVE/YYYY/MM/. */
static void sweep_all(const char *dir)
{
	atomic_sweep(dir);
	each_month(dir, sweep_month, NULL);
}


/* "<batch>.tar.xz" or "<batch>.tar.zst": the batch id; 0 for any other name. */
static long long archive_name(const char *nm)
{
	size_t k = strspn(nm, "0123456789");

	if (!k || k > 18 || (strcmp(nm + k, ".tar.xz") && strcmp(nm + k, ".tar.zst")))
		return 0;
	return atoll(nm);
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct recorded {
	const char **paths; /* archives.path, sorted */
	size_t n;
	long long head;     /* newest chain position, 0 when none */
	const char *prev;   /* its sha256, or "none" */
};

/* An archive file with no archives row. A run killed between writing and
 * recording leaves one that claims the next chain position after the recorded
 * head; its batch's originals are all still there, so it goes: left, it would
 * claim the position of whatever is archived next (a fork audit verify
 * reports forever). Anything else is refused: it may be an archive the
 * database forgot (restored from a backup), the only copy of its files. */
static int drop_unrecorded_one(struct run *R, const char *rel, long long id,
			       const struct recorded *rc)
{
	char *path = xasprintf("%s/%s", R->dir, rel), *mtext = NULL, why[300];
	unsigned char *sig = NULL;
	size_t mlen = 0, siglen = 0;
	struct arc_reader *ar = arc_open(path, &mtext, &mlen, &sig, &siglen, why, sizeof(why));
	struct manifest m;
	int ret = -1, left = 0;

	manifest_init(&m);
	if (!ar || manifest_parse(&m, mtext, mlen, why, sizeof(why)))
		; /* why says */
	else if (m.batch != id || m.seq != rc->head + 1 || strcmp(m.prev, rc->prev))
		snprintf(why, sizeof(why), "batch %lld at chain position %lld, the chain's head is %lld",
			 m.batch, m.seq, rc->head);
	else
		left = 1;
	if (!left) {
		error("archive \"%s\" is not recorded in the database and is not what a killed run"
		      " leaves (%s); archive will not extend the chain past it: move it out of the"
		      " archive folder, or restore the database that recorded it", path, why);
	} else if (unlink(path)) {
		error("cannot remove unrecorded archive \"%s\": %s", path, strerror(errno));
	} else {
		log_event(LOG_LVL_WARN, "archive.unrecorded", "path=%s batch=%lld seq=%lld action=removed",
			  rel, id, m.seq);
		ret = 0;
	}
	manifest_release(&m);
	arc_close(ar);
	free(mtext);
	free(sig);
	free(path);
	return ret;
}

struct unrecorded {
	struct run *R;
	struct recorded rc;
	int ret;
};

static int drop_in_month(const char *mrel, const char *mabs, void *arg)
{
	struct unrecorded *u = arg;
	struct dirent **files = NULL;
	int nf = scandir(mabs, &files, NULL, alphasort), gone = 0;

	for (int k = 0; k < nf; k++) {
		long long id = archive_name(files[k]->d_name);
		char *rel = xasprintf("%s/%s", mrel, files[k]->d_name);
		char *abs = xasprintf("%s/%s", u->R->dir, rel);
		const char *key = rel;

		if (id > 0 && is_file(abs) &&
		    !bsearch(&key, u->rc.paths, u->rc.n, sizeof(*u->rc.paths), by_str)) {
			if (drop_unrecorded_one(u->R, rel, id, &u->rc))
				u->ret = -1;
			else
				gone = 1;
		}
		free(abs);
		free(rel);
		free(files[k]);
	}
	if (gone)
		fsync_dir(mabs);
	free(files);
	return 0;
}

/* Archive files (ARCHIVE/YYYY/MM/<batch>.tar.{xz,zst}, nothing else) that
 * the database does not record; run under the exclusive lock, before any
 * new archive takes a chain position. */
static int drop_unrecorded(struct run *R)
{
	struct unrecorded u = { .R = R };
	PGresult *r = db_query(R->c, "SELECT path, seq, sha256 FROM archives ORDER BY seq", 0, NULL);

	if (!r)
		return -1;
	u.rc.n = PQntuples(r);
	u.rc.paths = xcalloc(u.rc.n + 1, sizeof(*u.rc.paths));
	for (size_t i = 0; i < u.rc.n; i++)
		u.rc.paths[i] = PQgetvalue(r, i, 0);
	qsort(u.rc.paths, u.rc.n, sizeof(*u.rc.paths), by_str);
	u.rc.head = u.rc.n ? atoll(PQgetvalue(r, u.rc.n - 1, 1)) : 0;
	u.rc.prev = u.rc.n ? PQgetvalue(r, u.rc.n - 1, 2) : "none";
	each_month(R->dir, drop_in_month, &u);
	free(u.rc.paths);
	PQclear(r);
	return u.ret;
}

#define FINISHED                                                                               \
	" FROM batches b WHERE b.status IN ('succeeded', 'failed', 'partial', 'abandoned')"    \
	" AND b.job IN ('export-checks', 'import-responses', 'print-letters')"                 \
	" AND b.finished_at <= now() - make_interval(days => $1::int)"                         \
	" AND NOT EXISTS (SELECT 1 FROM archives a WHERE a.batch_id = b.id)"

/* A print batch waits while a code in its letters.pdf can still be redeemed
 * (redeem.c: live and not past expires_at): archives go to auditors. The
 * account_id join lets activation_codes_one_live find the live codes. */
#define HELD_CODES                                                                             \
	" (b.job = 'print-letters' AND EXISTS (SELECT 1 FROM letters l"                        \
	"  JOIN activation_codes k ON k.account_id = l.account_id AND k.letter_id = l.id"      \
	"  WHERE l.batch_id = b.id AND k.status = 'live' AND k.expires_at > now()))"

/* An export batch waits while a packet of it is still to be uploaded to an
 * agency with upload_url ($2, comma-separated; export_checks.c uploads the
 * 'written' ones): its outbox file is the only copy. Agencies without
 * upload_url take their packets from the outbox by other means. */
#define HELD_UPLOAD                                                                            \
	" (b.job = 'export-checks' AND EXISTS (SELECT 1 FROM packets q"                        \
	"  WHERE q.batch_id = b.id AND q.direction = 'request' AND q.status = 'written'"      \
	"  AND q.agency = ANY (string_to_array($2, ','))))"

#define CANDIDATES FINISHED " AND NOT" HELD_CODES " AND NOT" HELD_UPLOAD

/* "pfr,fms": the agencies with upload_url (the list status.c keeps too). */
static void upload_agencies(const struct config *cfg, char *buf, size_t len)
{
	static const char *const agencies[] = { "pfr", "fms" };
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(agencies) / sizeof(agencies[0]); i++)
		if (*cfg_str(cfg, agencies[i], "upload_url") && n < len)
			n += snprintf(buf + n, len - n, "%s%s", n ? "," : "", agencies[i]);
}

/* Batches held back (none archived), for the log: counts only. */
struct held {
	long long codes, upload;
};

static void log_held(const struct held *h)
{
	if (h->codes || h->upload)
		log_event(LOG_LVL_INFO, "archive.held", "print_batches=%lld export_batches=%lld",
			  h->codes, h->upload);
}

/* What a run would do: batches to archive plus archives whose originals are
 * still to be removed (todo), and the finished batches held back. */
static int count_work(PGconn *c, const char *const *p, long long *todo, struct held *h)
{
	PGresult *r = db_query(c,
		"SELECT count(*) FILTER (WHERE NOT codes AND NOT upload)"
		" + (SELECT count(*) FROM archives WHERE cleaned_at IS NULL),"
		" count(*) FILTER (WHERE codes), count(*) FILTER (WHERE upload)"
		" FROM (SELECT" HELD_CODES " AS codes," HELD_UPLOAD " AS upload" FINISHED ") x",
		2, p);

	if (!r)
		return -1;
	*todo = atoll(PQgetvalue(r, 0, 0));
	h->codes = atoll(PQgetvalue(r, 0, 1));
	h->upload = atoll(PQgetvalue(r, 0, 2));
	PQclear(r);
	return 0;
}

CMD(cmd_archive)
{
	struct run R = { 0 };
	struct progress prog;
	struct held held = { 0 };
	long long days = -1, todo = 0;
	char *params = NULL, dayss[24], uploads[16];
	const char *p[2] = { dayss, uploads };
	const char *comp;
	PGresult *r = NULL;
	int ret = EXIT_FAILED, started = 0;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--older-than") && i + 1 < argc && !parse_int(argv[i + 1], &days) &&
		    days >= 0 && days <= 36500)
			i++;
		else
			return usage_error(usage, "unknown or incomplete option \"%s\"", argv[i]);
	}
	R.cfg = ctx_config(ctx);
	if (!R.cfg)
		return EXIT_FAILED;
	if (days < 0)
		days = (cfg_dur(R.cfg, "archive", "older_than") + 86399) / 86400;
	comp = cfg_str(R.cfg, "archive", "compression");
	if (strcmp(comp, "xz") && strcmp(comp, "zstd")) {
		error("[archive] compression must be xz or zstd, not \"%s\"", comp);
		return EXIT_FAILED;
	}
	R.ext = strcmp(comp, "xz") ? "zst" : "xz";
	R.cert = cfg_str(R.cfg, "signer", "cert");
	R.chain = cfg_str(R.cfg, "signer", "chain");
	R.trust = cfg_str(R.cfg, "archive", "trust_anchor");
	R.c = ctx_connect(ctx);
	if (!R.c)
		return ctx->connect_exit;
	snprintf(dayss, sizeof(dayss), "%lld", days);
	upload_agencies(R.cfg, uploads, sizeof(uploads));

	/* nothing to do: say so quickly, leave no ledger noise (but a rerun's) */
	params = batch_params_argv(argc, argv, ctx->parallel);
	if (count_work(R.c, p, &todo, &held))
		goto out;
	if (!todo) {
		int st;

		log_held(&held);
		if (log_verbosity() >= 0 && held.codes + held.upload)
			printf("nothing to archive (%lld batch%s held back, see the log)\n",
			       held.codes + held.upload, held.codes + held.upload == 1 ? "" : "es");
		else if (log_verbosity() >= 0)
			printf("nothing to archive (no finished batch older than %lld day%s)\n", days,
			       days == 1 ? "" : "s");
		st = ledger_nothing_to_do(R.c, "archive", NULL, LOCK_EXCLUSIVE, params, ctx->rerun_of);
		ret = st == EXIT_TEMPFAIL ? EXIT_TEMPFAIL : st ? EXIT_FAILED : 0;
		goto out;
	}
	if (!*R.cert) {
		error("[signer] cert is not set in %s", config_path(R.cfg));
		goto out;
	}
	R.key = cfg_secret(R.cfg, "signer", "key", &R.keylen);
	if (!R.key)
		goto out;
	R.dir = cfg_spool(R.cfg, "archive");
	for (size_t i = 0; i < 4; i++)
		R.spool[i] = cfg_spool(R.cfg, spool_names[i]);
	if (mkdir_p(R.dir, 0700))
		goto out;

	switch (batch_start(R.c, &R.b, "archive", NULL, LOCK_EXCLUSIVE, params, ctx->rerun_of)) {
	case 0:
		started = 1;
		break;
	case EXIT_TEMPFAIL:
		ret = EXIT_TEMPFAIL;
		goto out;
	default:
		goto out;
	}
	log_held(&held);
	sweep_all(R.dir);
	if (drop_unrecorded(&R) || finish_cleanups(&R))
		goto out;
	r = db_query(R.c,
		"SELECT b.id, b.job,"
		" to_char(b.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		" to_char(b.finished_at AT TIME ZONE 'UTC', 'YYYY/MM')" CANDIDATES " ORDER BY b.id", 2, p);
	if (!r)
		goto out;
	progress_start(&prog, "batches archived", PQntuples(r));
	for (int i = 0; i < PQntuples(r); i++) {
		if (archive_batch(&R, atoll(PQgetvalue(r, i, 0)), PQgetvalue(r, i, 1),
				  PQgetvalue(r, i, 2), PQgetvalue(r, i, 3)) ||
		    batch_update_counts(R.c, &R.b)) {
			progress_end(&prog);
			goto out;
		}
		progress_add(&prog, 1);
	}
	progress_end(&prog);
	if (!PQntuples(r) && log_verbosity() >= 0)
		printf("no batch to archive; finished removing originals of earlier archives\n");
	ret = 0;
out:
	if (ret && db_is_down(R.c))
		ret = EXIT_TEMPFAIL; /* the database went away: try again later */
	if (started)
		batch_finish(R.c, &R.b, ret ? "failed" : "succeeded",
			     ret ? "archiving failed; see the log" : NULL);
	PQclear(r);
	free(params);
	if (R.key) {
		memset(R.key, 0, R.keylen);
		free(R.key);
	}
	free(R.dir);
	for (size_t i = 0; i < 4; i++)
		free(R.spool[i]);
	PQfinish(R.c);
	return ret;
}
