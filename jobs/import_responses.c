/* import-responses: believe an agency's answer only after every check, then
 * apply it in one transaction.
 *
 * Per packet, top to bottom: read (size limit) → safe parse → XSD → agency of
 * the folder → XML-DSig (pinned anchor, dates, signer O=, covers the root) →
 * counts → [BEGIN] request exists for that agency → not seen before → COPY the
 * results → every CheckId belongs to the request → set-based apply → [COMMIT]
 * → move to processed/. Any refusal moves the file to rejected/<agency>/ with
 * NAME.reason and leaves the database as it was (only the batch row counts it
 * and lists the file, so `rerun` can try it again). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <openssl/evp.h>

#include "atomic.h"
#include "db.h"
#include "download.h"
#include "esia-batch.h"
#include "fault.h"
#include "ledger.h"
#include "log.h"
#include "progress.h"
#include "safexml.h"
#include "workers.h"
#include "xmlsig.h"

static const char usage[] =
	"esia-batch import-responses [--agency pfr|fms] [--workers N] [FILE...]";

static const char help[] =
	"usage: esia-batch import-responses [--agency pfr|fms] [--workers N] [FILE...]\n"
	"\n"
	"Import the agencies' signed answers from inbox/pfr/ and inbox/fms/ (or only\n"
	"--agency's folder, or the FILEs named). A packet is believed only after: size\n"
	"([AGENCY] max_response_bytes), safe parse (no DTD, entities or network), XSD,\n"
	"XML-DSig signature by the agency ([AGENCY] trust_anchor; dates; covering the\n"
	"whole document), the request it answers exists for that agency, and every\n"
	"CheckId belongs to that request, once. Each packet is applied in one\n"
	"transaction: checks passed/failed (answers to data edited since the request\n"
	"are superseded and the check is requested again), accounts with both checks\n"
	"passed promoted to standard, failures recorded with the reason to fix,\n"
	"notices enqueued. Applied packets move to processed/AGENCY/; refused ones to\n"
	"rejected/AGENCY/ with NAME.reason, changing nothing. A packet imported twice is\n"
	"reported as a duplicate and changes nothing. Under `esia-batch rerun ID` the\n"
	"packets batch ID refused are moved back from rejected/ and imported again.\n"
	"One import runs at a time (a second one exits 75), with or without --parallel.\n"
	"\n"
	"--workers N spreads the packets over N processes, each with its own database\n"
	"connection, under the one batch (default [import] workers, at most one per 16\n"
	"packets). Each packet stays one transaction; the totals are the same.\n"
	"\n"
	"Without FILEs, an agency with [AGENCY] download_url (https://host/dir/) is\n"
	"asked first: GET of the URL lists file names, one a line; each new one is\n"
	"fetched (at most max_response_bytes) into inbox/AGENCY/ and then DELETEd on\n"
	"the server; client_cert, client_key and ca_bundle as for upload_url. The\n"
	"downloaded files get every check above. If the server is down the inbox is\n"
	"still imported.\n"
	"\n"
	"Exit: 0 all applied (or nothing to do), 1 failed (also: download refused, e.g.\n"
	"      an untrusted server certificate), 2 usage, 65 some packets rejected (the\n"
	"      rest applied; also a file on the server skipped: bad name or oversize),\n"
	"      75 lock held, database down, or download server down (nothing else failed).\n";

struct agency {
	const char *name, *org, *ns, *root, *xsd;
};

static const struct agency agencies[] = {
	{ "pfr", "PFR", "http://kvs.pfr.com/snils-validation/1.0.1", "SnilsValidationResponse",
	  "pfr-response.xsd" },
	{ "fms", "FMS", "http://fms.gov.ru/passport-validity/1.0.0", "PassportValidityResponse",
	  "fms-response.xsd" },
};
#define N_AGENCIES (sizeof(agencies) / sizeof(agencies[0]))

static const struct agency *agency_named(const char *name)
{
	for (size_t i = 0; i < N_AGENCIES; i++)
		if (name && !strcmp(agencies[i].name, name))
			return &agencies[i];
	return NULL;
}

/* One file to import and the agency its folder (or --agency) says it is from. */
struct work {
	char *path;
	const struct agency *ag; /* NULL: take it from the packet, the signer must agree */
};

struct run {
	struct ctx *ctx;
	struct config *cfg;
	PGconn *c;
	struct batch b;
	char batch_id[24];
	long long applied, duplicates, passed, failed, stale, promoted;
	char *copybuf;
	size_t copylen, copycap;
};

/* What a verified packet says. */
struct packet {
	const struct agency *ag;
	char id[40], reply_to[40];
	char sha256[65];
	long long bytes, count, results;
	char *name;
};

/* A refusal: a one-line "what" plus details for the .reason file. */
struct why {
	char what[640];
	char detail[1024];
};

/* Say why a packet is refused; returns 1 (refused). */
static int PRINTF_LIKE(2, 3) refuse(struct why *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->what, sizeof(w->what), fmt, ap);
	va_end(ap);
	return 1;
}

/* ---------------------------------------------------------------- files */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files of an inbox folder not starting with '.', sorted. */
static int list_inbox(const char *dir, const struct agency *ag, struct work **w, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t k = 0, cap = 0;

	if (!d) {
		if (errno == ENOENT)
			return 0;
		return error("cannot read folder \"%s\": %s", dir, strerror(errno));
	}
	while ((e = readdir(d))) {
		struct stat st;
		char *p;

		if (e->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", dir, e->d_name);
		if (lstat(p, &st) || !S_ISREG(st.st_mode)) {
			free(p);
			continue;
		}
		if (k == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[k++] = p;
	}
	closedir(d);
	if (k)
		qsort(names, k, sizeof(*names), cmp_str);
	*w = xrealloc(*w, (*n + k + 1) * sizeof(**w));
	for (size_t i = 0; i < k; i++) {
		(*w)[*n].path = names[i];
		(*w)[*n].ag = ag;
		(*n)++;
	}
	free(names);
	return 0;
}

static char *agency_dir(const struct config *cfg, const char *spool, const char *agency)
{
	char *root = cfg_spool(cfg, spool), *d = xasprintf("%s/%s", root, agency);

	free(root);
	return d;
}

/* Move path into SPOOL/AGENCY/. A file another run already moved is fine. */
static int settle(struct run *r, const char *path, const char *spool, const char *agency)
{
	char *dir = agency_dir(r->cfg, spool, agency);
	int ret = 0;

	if (access(path, F_OK) && errno == ENOENT)
		log_event(LOG_LVL_INFO, "import.gone", "file=%s", path);
	else
		ret = move_into(path, dir, NULL);
	free(dir);
	return ret;
}

/* ---------------------------------------------------------------- refusal */

/* Quarantine: NAME.reason beside NAME in rejected/AGENCY/, then the file; the
 * batch row counts it and lists it for rerun. Nothing else changes. */
static int quarantine(struct run *r, const char *path, const char *agency, const struct why *w)
{
	char *copy = xstrdup(path), *name = basename(copy);
	char *dir = agency_dir(r->cfg, "rejected", agency);
	char *reason = xasprintf("%s/%s.reason", dir, name);
	char *text = xasprintf("%s\nfile: %s\nbatch: %lld\n%s%s", w->what, path, r->b.id,
			       w->detail, *w->detail ? "\n" : "");
	const char *p[4] = { r->batch_id, agency, name, w->what };
	char q[256];
	int ret = -1;

	log_event(LOG_LVL_WARN, "import.rejected", "file=%s agency=%s reason=%s", name, agency,
		  log_quote(w->what, q, sizeof(q)));
	if (mkdir_p(dir, 0700) || atomic_write(reason, text, strlen(text), 0600))
		goto out;
	if (settle(r, path, "rejected", agency))
		goto out;
	r->b.rejected++;
	if (db_exec(r->c,
		    "UPDATE batches SET rejected = rejected + 1, params = jsonb_set(params, '{rejected}',"
		    " coalesce(params->'rejected', '[]') || jsonb_build_array(jsonb_build_object("
		    "'agency', $2::text, 'file', $3::text, 'reason', $4::text))) WHERE id = $1::bigint",
		    4, p))
		goto out;
	ret = 0;
out:
	free(text);
	free(reason);
	free(dir);
	free(copy);
	return ret;
}

/* ---------------------------------------------------------------- reading */

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
static int verify(struct run *r, const struct work *wk, struct packet *pk, xmlDocPtr *docp,
		  struct why *w)
{
	long long max = 0, len = 0;
	char *buf = NULL, why[512] = "";
	xmlDocPtr doc = NULL;
	xmlNodePtr root;
	const struct agency *ag = NULL;
	int ret = 1;

	for (size_t i = 0; i < N_AGENCIES; i++) {
		long long m = cfg_int(r->cfg, agencies[i].name, "max_response_bytes");
		if ((!wk->ag || wk->ag == &agencies[i]) && m > max)
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
		if (is_el(root, agencies[i].ns, agencies[i].root))
			ag = &agencies[i];
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
	if (xmlsig_verify(doc, cfg_str(r->cfg, ag->name, "trust_anchor"), ag->org, why,
			  sizeof(why))) {
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

/* ---------------------------------------------------------------- apply */

/* Reasons the citizen reads (what to fix), by agency answer. */
static const char reason_sql[] =
	"CASE r.status"
	" WHEN 'mismatch' THEN 'Данные не совпадают с данными ПФР: проверьте фамилию, имя, отчество,"
	" пол и дату рождения' || coalesce(' (' || r.message || ')', '')"
	" WHEN 'not_found' THEN CASE c.agency WHEN 'pfr' THEN 'СНИЛС не найден в ПФР: проверьте номер СНИЛС'"
	"  ELSE 'Паспорт не найден в ФМС: проверьте серию, номер и дату выдачи паспорта' END"
	" WHEN 'invalid' THEN r.message || coalesce(' (с ' || to_char(r.since, 'DD.MM.YYYY') || ')', '')"
	"  || ': укажите данные действующего паспорта'"
	" END";

/* One packet's results are in imp_results. Inside the caller's transaction.
 * Returns 0, 1 refused (w), -1 database error. */
static int apply(struct run *r, struct packet *pk, struct why *w)
{
	const char *p[3] = { pk->reply_to, pk->ag->name, r->batch_id };
	PGresult *res = NULL;
	char *sql = NULL, results[24];
	long long current;
	int ret = -1;

	/* every CheckId a check of this agency sent in the request answered, once */
	res = db_query(r->c,
		"SELECT count(*) FILTER (WHERE c.id IS NULL OR c.agency <> $2),"
		" count(*) FILTER (WHERE c.agency = $2 AND c.packet_id IS DISTINCT FROM $1::uuid),"
		" count(*) - count(DISTINCT r.check_id),"
		" coalesce(min(r.check_id) FILTER (WHERE c.id IS NULL OR c.agency <> $2"
		"  OR c.packet_id IS DISTINCT FROM $1::uuid)::text, '')"
		" FROM imp_results r LEFT JOIN checks c ON c.id = r.check_id", 2, p);
	if (!res)
		goto out;
	if (atoll(PQgetvalue(res, 0, 0))) {
		ret = refuse(w, "%s record(s) not in request %s", PQgetvalue(res, 0, 0), pk->reply_to);
		snprintf(w->detail, sizeof(w->detail), "first unknown CheckId: %s", PQgetvalue(res, 0, 3));
		goto out;
	}
	if (atoll(PQgetvalue(res, 0, 1))) {
		ret = refuse(w, "%s record(s) no longer in request %s (requested again since)",
			     PQgetvalue(res, 0, 1), pk->reply_to);
		snprintf(w->detail, sizeof(w->detail), "first such CheckId: %s", PQgetvalue(res, 0, 3));
		goto out;
	}
	if (atoll(PQgetvalue(res, 0, 2))) {
		ret = refuse(w, "a CheckId is answered twice");
		goto out;
	}
	PQclear(res);
	res = NULL;

	/* Lock the accounts in id order: the other agency's answer for the same
	 * citizen waits, so "both passed" is seen by exactly one of them, and a
	 * data edit cannot slip between the version test and the promotion. */
	if (db_exec(r->c,
		    "SELECT count(*) FROM (SELECT a.id FROM accounts a JOIN checks c ON c.account_id = a.id"
		    " JOIN imp_results r ON r.check_id = c.id ORDER BY a.id FOR NO KEY UPDATE OF a) x",
		    0, NULL))
		goto out;

	/* answers to the data the account still has */
	sql = xasprintf(
		"WITH u AS (UPDATE checks c SET state = CASE WHEN r.status IN ('match', 'valid')"
		"  THEN 'passed' ELSE 'failed' END, result = r.status, answered_at = now(),"
		"  reason = %s"
		" FROM imp_results r, accounts a WHERE c.id = r.check_id AND c.state = 'sent'"
		"  AND a.id = c.account_id AND c.data_version = a.data_version"
		" RETURNING c.id, c.account_id, c.agency, c.state, c.reason, c.data_version),"
		" i AS (INSERT INTO imp_done SELECT * FROM u RETURNING 1)"
		" SELECT count(*) FROM i", reason_sql);
	res = db_query(r->c, sql, 0, NULL);
	if (!res)
		goto out;
	current = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;

	/* stale answers: superseded, and the current data is checked afresh
	 * (none when every answer was to the current data) */
	if (current < pk->results) {
		res = db_query(r->c,
			"WITH s AS (UPDATE checks c SET state = 'superseded', result = r.status, answered_at = now(),"
			"  reason = 'ответ на устаревшие данные (версия ' || c.data_version || ')'"
			" FROM imp_results r, accounts a WHERE c.id = r.check_id AND c.state = 'sent'"
			"  AND a.id = c.account_id AND c.data_version <> a.data_version"
			" RETURNING c.account_id, c.agency),"
			" i AS (INSERT INTO checks (account_id, agency, data_version)"
			"  SELECT DISTINCT s.account_id, s.agency, a.data_version FROM s JOIN accounts a ON a.id = s.account_id"
			"  ON CONFLICT (account_id, agency, data_version) DO NOTHING RETURNING 1)"
			" SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM i)", 0, NULL);
		if (!res)
			goto out;
		r->stale += atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
		res = NULL;
	}

	/* failures: the account's data is rejected with what to fix; one notice per check */
	res = db_query(r->c,
		"WITH f AS (SELECT DISTINCT ON (account_id) account_id, reason FROM imp_done"
		"  WHERE state = 'failed' ORDER BY account_id, id),"
		" u AS (UPDATE accounts a SET data_status = 'rejected', updated_at = now(),"
		"  data_reject_reason = CASE WHEN a.data_status = 'rejected' AND a.data_reject_reason IS NOT NULL"
		"   AND strpos(a.data_reject_reason, f.reason) = 0 THEN a.data_reject_reason || '; ' || f.reason"
		"   ELSE f.reason END"
		"  FROM f WHERE a.id = f.account_id RETURNING a.id)"
		" SELECT count(*), coalesce(enqueue_notices('check_failed', array_agg(d.account_id),"
		"  array_agg('check_failed:' || d.id), array_agg(jsonb_build_object('reason', d.reason,"
		"  'agency', d.agency, 'check', d.id)), $1::bigint), 0), (SELECT count(*) FROM u)"
		" FROM imp_done d WHERE d.state = 'failed'", 1, p + 2);
	if (!res)
		goto out;
	r->failed += atoll(PQgetvalue(res, 0, 0));
	PQclear(res);

	/* promotions: both current checks passed */
	{
		const char *pp[2] = { r->batch_id, pk->id };

		res = db_query(r->c,
			"WITH p AS (UPDATE accounts a SET level = CASE a.level WHEN 'simplified' THEN 'standard'"
			"  ELSE a.level END, data_status = 'verified', data_reject_reason = NULL, updated_at = now()"
			/* imp_done holds this agency's answers to current data; the
			 * other agency's check for the same data must have passed too */
			" FROM imp_done d WHERE a.id = d.account_id AND d.state = 'passed'"
			"  AND EXISTS (SELECT 1 FROM checks s WHERE s.account_id = d.account_id"
			"   AND s.agency = CASE d.agency WHEN 'pfr' THEN 'fms' ELSE 'pfr' END"
			"   AND s.data_version = d.data_version AND s.state = 'passed')"
			" RETURNING a.id, a.data_version, a.level),"
			" e AS (INSERT INTO audit_events (event, account_id, batch_id, details)"
			"  SELECT 'account.standard', p.id, $1::bigint, jsonb_build_object('data_version',"
			"  p.data_version, 'level', p.level, 'packet', $2::text) FROM p)"
			" SELECT count(*), coalesce(enqueue_notices('check_passed', array_agg(p.id),"
			"  array_agg('check_passed:' || p.id || ':' || p.data_version),"
			"  array_agg(jsonb_build_object('data_version', p.data_version)), $1::bigint), 0),"
			"  (SELECT count(*) FROM imp_done WHERE state = 'passed') FROM p",
			2, pp);
		if (!res)
			goto out;
		r->promoted += atoll(PQgetvalue(res, 0, 0));
		r->passed += atoll(PQgetvalue(res, 0, 2));
		PQclear(res);
		res = NULL;
	}

	/* The request is answered once none of its checks waits any more; an
	 * answer to every CheckId of the request (each checked above to be the
	 * request's, once) settles that without looking. */
	{
		const char *pa[2] = { pk->reply_to, results };

		snprintf(results, sizeof(results), "%lld", pk->results);
		if (db_exec(r->c,
			    "UPDATE packets SET status = 'answered' WHERE id = $1::uuid"
			    " AND status IN ('written', 'uploaded')"
			    " AND (cardinality(check_ids) = $2::int OR NOT EXISTS (SELECT 1"
			    "  FROM unnest(check_ids) AS i (id) JOIN checks c ON c.id = i.id"
			    "  WHERE c.packet_id = $1::uuid AND c.state = 'sent'))",
			    2, pa))
			goto out;
	}
	ret = 0;
out:
	PQclear(res);
	free(sql);
	return ret;
}

/* The database part of one packet. 0 applied or duplicate (*dup set),
 * 1 refused (w), -1 error (transaction rolled back). */
static int record(struct run *r, struct packet *pk, int *dup, struct why *w)
{
	char bytes[24], count[24];
	const char *p[9] = { pk->id, pk->ag->name, r->batch_id, pk->name, pk->sha256, count, bytes,
			     pk->reply_to, NULL };
	PGresult *res = NULL;
	int ret = -1;

	*dup = 0;
	snprintf(bytes, sizeof(bytes), "%lld", pk->bytes);
	snprintf(count, sizeof(count), "%lld", pk->count);
	if (db_begin(r->c))
		goto out;
	/* the request: ours, for this agency (locked: its answers apply one at a time) */
	res = db_query(r->c, "SELECT agency, direction FROM packets WHERE id = $1::uuid FOR UPDATE", 1,
		       p + 7);
	if (!res)
		goto out;
	if (!PQntuples(res) || strcmp(PQgetvalue(res, 0, 1), "request") ||
	    strcmp(PQgetvalue(res, 0, 0), pk->ag->name)) {
		ret = refuse(w, "answers no %s request of ours: InReplyTo %s", pk->ag->org, pk->reply_to);
		goto out;
	}
	PQclear(res);
	/* the response itself, once */
	res = db_query(r->c,
		"INSERT INTO packets (id, direction, agency, batch_id, file_name, sha256, records, bytes,"
		" in_reply_to, status) VALUES ($1::uuid, 'response', $2, $3::bigint, $4, $5, $6::int,"
		" $7::bigint, $8::uuid, 'applied') ON CONFLICT (id) DO NOTHING RETURNING 1", 8, p);
	if (!res)
		goto out;
	if (!PQntuples(res)) {
		PQclear(res);
		res = db_query(r->c, "SELECT direction, sha256 FROM packets WHERE id = $1::uuid", 1, p);
		if (!res)
			goto out;
		if (PQntuples(res) && !strcmp(PQgetvalue(res, 0, 0), "response") &&
		    !strcmp(PQgetvalue(res, 0, 1), pk->sha256)) {
			*dup = 1;
			ret = 0;
		} else {
			ret = refuse(w, "PacketId %s is already used by a different packet", pk->id);
		}
		goto out;
	}
	PQclear(res);
	res = NULL;
	if (db_copy_start(r->c, "COPY imp_results (check_id, status, message, since) FROM STDIN") ||
	    db_copy_put(r->c, r->copybuf, (int)r->copylen) || db_copy_end(r->c))
		goto out;
	ret = apply(r, pk, w);
	if (ret)
		goto out;
	/* added, not overwritten: workers share the batch row */
	r->b.records += pk->results;
	if (batch_add_counts(r->c, &r->b, pk->results, 0))
		goto out;
	fault_point("import.before_commit");
	if (db_commit(r->c))
		goto out;
	fault_point("import.after_commit");
	ret = 0;
out:
	PQclear(res);
	if (ret || *dup)
		db_rollback(r->c);
	return ret;
}

/* One file: 0 applied/duplicate/refused, -1 the job must stop. */
static int import_one(struct run *r, const struct work *wk)
{
	struct packet pk = { 0 };
	struct why w = { "", "" };
	xmlDocPtr doc = NULL;
	char *copy = xstrdup(wk->path);
	int dup = 0, ret = -1, rc;
	long long before = r->b.records;

	pk.name = basename(copy);
	fault_point("import.packet");
	rc = verify(r, wk, &pk, &doc, &w);
	xmlFreeDoc(doc); /* everything needed is in pk and the COPY buffer */
	if (!rc)
		rc = record(r, &pk, &dup, &w);
	if (rc < 0) {
		r->b.records = before;
		goto out;
	}
	if (rc > 0) {
		r->b.records = before;
		ret = quarantine(r, wk->path, pk.ag ? pk.ag->name : wk->ag ? wk->ag->name : "unknown", &w);
		goto out;
	}
	if (settle(r, wk->path, "processed", pk.ag->name))
		goto out;
	if (dup) {
		r->duplicates++;
		log_event(LOG_LVL_WARN, "import.duplicate", "file=%s agency=%s packet=%s", pk.name,
			  pk.ag->name, pk.id);
	} else {
		r->applied++;
		log_event(LOG_LVL_INFO, "import.applied", "file=%s agency=%s packet=%s in_reply_to=%s records=%lld",
			  pk.name, pk.ag->name, pk.id, pk.reply_to, pk.results);
	}
	ret = 0;
out:
	free(copy);
	return ret;
}

/* ---------------------------------------------------------------- rerun */

/* Move the packets batch `of` refused back to the inbox; they are the work. */
static int take_back(struct run *r, long long of, struct work **w, size_t *n)
{
	char id[24];
	const char *p[1] = { id };
	PGresult *res;
	int ret = -1;

	snprintf(id, sizeof(id), "%lld", of);
	res = db_query(r->c,
		"SELECT e->>'agency', e->>'file' FROM batches b,"
		" jsonb_array_elements(coalesce(b.params->'rejected', '[]')) e WHERE b.id = $1::bigint", 1, p);
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		const struct agency *ag = agency_named(PQgetvalue(res, i, 0));
		const char *name = PQgetvalue(res, i, 1);
		char *rej, *src, *why, *inbox, *dst = NULL;

		if (!ag || !*name || strchr(name, '/') || name[0] == '.')
			continue; /* "unknown" agency: nothing to put it back into */
		rej = agency_dir(r->cfg, "rejected", ag->name);
		src = xasprintf("%s/%s", rej, name);
		why = xasprintf("%s.reason", src);
		inbox = agency_dir(r->cfg, "inbox", ag->name);
		if (access(src, F_OK)) {
			warning("rejected packet \"%s\" is no longer there; skipped", src);
		} else if (move_into(src, inbox, &dst) == 0) {
			unlink(why);
			*w = xrealloc(*w, (*n + 2) * sizeof(**w));
			(*w)[*n].path = dst;
			(*w)[*n].ag = ag;
			(*n)++;
			log_event(LOG_LVL_INFO, "import.retry", "file=%s agency=%s", name, ag->name);
		} else {
			free(rej), free(src), free(why), free(inbox);
			goto out;
		}
		free(rej), free(src), free(why), free(inbox);
	}
	ret = 0;
out:
	PQclear(res);
	return ret;
}

/* ---------------------------------------------------------------- workers */

static int prepare(struct run *r)
{
	return db_script(r->c,
			 "CREATE TEMP TABLE imp_results (check_id bigint NOT NULL, status text NOT NULL,"
			 " message text, since date) ON COMMIT DELETE ROWS;"
			 "CREATE TEMP TABLE imp_done (id bigint, account_id bigint, agency text, state text,"
			 " reason text, data_version int) ON COMMIT DELETE ROWS",
			 "creating the import tables");
}

/* The packets i, i+n, i+2n... in order; 0, or -1 when the job must stop. */
static int import_share(struct run *r, const struct work *w, size_t nw, size_t first,
			size_t step, struct progress *prog, int tick_fd)
{
	if (prepare(r))
		return -1;
	for (size_t i = first; i < nw; i += step) {
		if (import_one(r, &w[i]))
			return -1;
		if (prog)
			progress_add(prog, 1);
		else
			worker_tick(tick_fd);
	}
	return 0;
}

static int import_serial(struct run *r, const struct work *w, size_t nw, struct progress *prog)
{
	return import_share(r, w, nw, 0, 1, prog, -1);
}

/* What a worker tells the parent at the end. */
struct tally {
	long long applied, duplicates, passed, failed, stale, promoted;
	int db_down;
};

struct share {
	struct run *r;
	const struct work *w;
	size_t nw;
};

/* Child k: its own connection and temporary tables; the parent's batch
 * (and lock) cover its work. */
static int import_worker(int k, int n, void *arg, int fd)
{
	struct share *sh = arg;
	struct run r = *sh->r;
	struct tally t = { 0 };
	int st = -1;

	r.copybuf = NULL;
	r.copylen = r.copycap = 0;
	r.applied = r.duplicates = r.passed = r.failed = r.stale = r.promoted = 0;
	r.c = ctx_connect(r.ctx);
	if (r.c)
		st = import_share(&r, sh->w, sh->nw, (size_t)k, (size_t)n, NULL, fd);
	t = (struct tally){ r.applied, r.duplicates, r.passed, r.failed, r.stale, r.promoted,
			    !r.c || db_is_down(r.c) };
	worker_report(fd, &t, sizeof(t));
	free(r.copybuf);
	if (r.c)
		PQfinish(r.c);
	return st ? (t.db_down ? EXIT_TEMPFAIL : EXIT_FAILED) : EXIT_DONE;
}

/* Packets spread over n worker processes. Account locks are taken in id
 * order in every packet, so workers wait for each other but never deadlock;
 * each packet is still one transaction that records itself. */
static int import_parallel(struct run *r, const struct work *w, size_t nw, int n,
			   struct progress *prog)
{
	struct share sh = { r, w, nw };
	struct tally *t = xcalloc((size_t)n, sizeof(*t));
	int *codes = xcalloc((size_t)n, sizeof(*codes));
	int ret;

	log_event(LOG_LVL_INFO, "import.workers", "workers=%d packets=%zu", n, nw);
	ret = workers_run(n, import_worker, &sh, prog, t, sizeof(*t), codes);

	for (int k = 0; k < n; k++) {
		r->applied += t[k].applied;
		r->duplicates += t[k].duplicates;
		r->passed += t[k].passed;
		r->failed += t[k].failed;
		r->stale += t[k].stale;
		r->promoted += t[k].promoted;
		if (codes[k] < 0)
			error("import worker %d of %d died (signal %d)", k + 1, n, -codes[k]);
	}
	/* the workers' committed packets counted themselves in the batch row */
	if (batch_reload_counts(r->c, &r->b))
		ret = -1;
	free(t);
	free(codes);
	return ret;
}

/* How many workers: --workers, else [import] workers, but never more than
 * one per 16 packets (a worker costs a connection and its setup). */
static int workers_for(const struct run *r, const char *opt, size_t nw)
{
	long long k = 0;

	if (opt && parse_int(opt, &k) == 0)
		return (int)(k < (long long)nw ? k : (long long)(nw ? nw : 1));
	k = cfg_int(r->cfg, "import", "workers");
	if ((long long)nw / 16 < k)
		k = (long long)nw / 16;
	return k < 1 ? 1 : (int)k;
}

/* ---------------------------------------------------------------- command */

CMD(cmd_import_responses)
{
	const struct agency *only = NULL;
	const char *workers_s = NULL;
	struct run r = { 0 };
	struct work *w = NULL;
	struct progress prog;
	size_t n = 0, nfiles = 0;
	char *params = NULL;
	int ret = EXIT_FAILED, first_file = 0, st, inited = 0, dl_down = 0, dl_failed = 0, nworkers;
	long long dl_skipped = 0;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--agency") && i + 1 < argc) {
			only = agency_named(argv[++i]);
			if (!only)
				return usage_error(usage, "unknown agency \"%s\" (pfr or fms)", argv[i]);
		} else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
			long long k;

			workers_s = argv[++i];
			if (parse_int(workers_s, &k) < 0 || k < 1 || k > 64)
				return usage_error(usage, "--workers needs a number from 1 to 64, not \"%s\"",
						   workers_s);
		} else if (!strcmp(argv[i], "--")) {
			first_file = i + 1;
			break;
		} else if (argv[i][0] == '-') {
			return usage_error(usage, "unknown or incomplete option \"%s\"", argv[i]);
		} else {
			first_file = i;
			break;
		}
	}
	if (first_file)
		nfiles = argc - first_file;
	r.ctx = ctx;
	r.cfg = ctx_config(ctx);
	if (!r.cfg)
		return EXIT_FAILED;

	/* first fetch what the agencies offer (never for named FILEs or a rerun);
	 * a server that is down does not stop the import of the inbox */
	for (size_t i = 0; i < N_AGENCIES && !nfiles && !ctx->rerun_of; i++) {
		struct download_stats ds = { 0 };

		if ((only && only != &agencies[i]) ||
		    !*cfg_str(r.cfg, agencies[i].name, "download_url"))
			continue;
		st = download_agency(r.cfg, agencies[i].name, &ds);
		if (st == DOWNLOAD_TRANSIENT)
			dl_down = 1;
		else if (st == DOWNLOAD_REFUSED)
			dl_failed = 1;
		dl_skipped += ds.skipped;
		if (ctx->verbosity >= 0 && (ds.fetched || ds.skipped))
			printf("downloaded %lld packet%s from %s (%lld skipped)\n", ds.fetched,
			       ds.fetched == 1 ? "" : "s", agencies[i].org, ds.skipped);
	}
	/* the work: named files, or the inbox folders */
	if (ctx->rerun_of) {
		/* taken back from rejected/ once the batch has started */
	} else if (nfiles) {
		w = xcalloc(nfiles + 1, sizeof(*w));
		for (size_t i = 0; i < nfiles; i++) {
			char *copy = xstrdup(argv[first_file + i]), *parent = basename(dirname(copy));

			w[n].path = xstrdup(argv[first_file + i]);
			w[n].ag = only ? only : agency_named(parent);
			n++;
			free(copy);
		}
	} else {
		for (size_t i = 0; i < N_AGENCIES; i++) {
			char *dir;

			if (only && only != &agencies[i])
				continue;
			dir = agency_dir(r.cfg, "inbox", agencies[i].name);
			st = list_inbox(dir, &agencies[i], &w, &n);
			free(dir);
			if (st)
				goto out;
		}
		if (!n) {
			if (ctx->verbosity >= 0)
				printf("nothing to import\n");
			ret = EXIT_DONE;
			goto out;
		}
	}

	for (size_t i = 0; i < N_AGENCIES; i++)
		if ((!only || only == &agencies[i]) && !*cfg_str(r.cfg, agencies[i].name, "trust_anchor")) {
			error("[%s] trust_anchor is not set: no answer from %s can be believed",
			      agencies[i].name, agencies[i].org);
			goto out;
		}
	if (xmlsig_init())
		goto out;
	inited = 1;
	r.c = ctx_connect(ctx);
	if (!r.c) {
		ret = EXIT_TEMPFAIL;
		goto out;
	}
	params = batch_params_argv(argc, argv);
	/* One import at a time, --parallel or not: files in the inbox are not
	 * claimed row by row, and two runs would race to move the same file. */
	st = batch_start(r.c, &r.b, "import-responses", NULL, LOCK_EXCLUSIVE, params,
			 ctx->rerun_of);
	if (st) {
		ret = st == EXIT_TEMPFAIL ? EXIT_TEMPFAIL : EXIT_FAILED;
		goto out;
	}
	snprintf(r.batch_id, sizeof(r.batch_id), "%lld", r.b.id);
	if (ctx->rerun_of && take_back(&r, ctx->rerun_of, &w, &n))
		goto fail;
	nworkers = workers_for(&r, workers_s, n);
	progress_start(&prog, "packets", (long long)n);
	if (nworkers > 1)
		st = import_parallel(&r, w, n, nworkers, &prog);
	else
		st = import_serial(&r, w, n, &prog);
	progress_end(&prog);
	if (st)
		goto fail;

	if (r.b.rejected)
		ret = EXIT_DATAERR;
	else
		ret = EXIT_DONE;
	batch_finish(r.c, &r.b, r.b.rejected ? "partial" : "succeeded", NULL);
	if (ctx->verbosity >= 0)
		printf("imported %lld packet%s (%lld results: %lld passed, %lld failed, %lld stale),"
		       " %lld accounts promoted, %lld duplicate%s, %lld rejected\n",
		       r.applied, r.applied == 1 ? "" : "s", r.b.records, r.passed, r.failed, r.stale,
		       r.promoted, r.duplicates, r.duplicates == 1 ? "" : "s", r.b.rejected);
	goto out;
fail:
	ret = db_is_down(r.c) ? EXIT_TEMPFAIL : EXIT_FAILED;
	batch_finish(r.c, &r.b, "failed", "import stopped on an error; see the log");
out:
	/* the download's fate when the import itself went well */
	if (ret == EXIT_DONE || ret == EXIT_DATAERR) {
		if (dl_failed)
			ret = EXIT_FAILED;
		else if (ret == EXIT_DONE && dl_down)
			ret = EXIT_TEMPFAIL;
		else if (ret == EXIT_DONE && dl_skipped)
			ret = EXIT_DATAERR;
	}
	for (size_t i = 0; i < n; i++)
		free(w[i].path);
	free(w);
	free(r.copybuf);
	free(params);
	if (r.c)
		PQfinish(r.c);
	if (inited)
		xmlsig_shutdown();
	return ret;
}
