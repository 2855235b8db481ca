/* export-checks: pending PFR/FMS checks -> signed request packets in the
 * outbox (and, when configured, uploaded to the agency).
 *
 * Per agency, under the agency's job lock (or row claims with --parallel):
 *   sweep   remove outbox files whose PacketId has no packets row (a run that
 *           died between the file and its commit), retry unfinished uploads;
 *   timeout checks sent longer than response_timeout ago go back to pending
 *           (a re-request) or, after max_attempts, become error/timeout;
 *   packets per packet, in one transaction: claim up to max_records pending
 *           checks (FOR UPDATE SKIP LOCKED, cursor FETCH 1000), validate each
 *           locally (refused -> failed + notice), stream the rest with the
 *           text writer (bounded by max_bytes), sign, write the file
 *           atomically (0600), then record the packet and mark the checks
 *           sent and commit;
 *   upload  PUT each written packet; success -> uploaded.
 * A crash anywhere leaves either no file, or a file without a packets row
 * that the next run removes, with its checks still pending: each check ends
 * up in exactly one live packet. */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "atomic.h"
#include "db.h"
#include "esia-batch.h"
#include "fault.h"
#include "ledger.h"
#include "log.h"
#include "progress.h"
#include "upload.h"
#include "validate.h"
#include "workers.h"
#include "xmlsig.h"

static const char usage[] = "esia-batch export-checks [--agency pfr|fms] [--limit N] [--parallel]";

static const char help[] =
	"usage: esia-batch export-checks [--agency pfr|fms] [--limit N] [--parallel]\n"
	"\n"
	"Write pending personal-data checks into signed XML request packets, one\n"
	"folder per agency: SPOOL/outbox/pfr (SNILS check) and SPOOL/outbox/fms\n"
	"(passport validity). Checks whose data fail local validation are not sent:\n"
	"they fail with the reason and the citizen is notified. Checks unanswered\n"
	"after [AGENCY] response_timeout are requested again, up to max_attempts,\n"
	"then become errors. With [AGENCY] upload_url, packets are uploaded and\n"
	"uploads that failed earlier are retried first.\n"
	"\n"
	"  --agency A    only this agency (default: both, side by side in two\n"
	"                processes, each with its own lock and batch)\n"
	"  --limit N     at most N checks per agency in this run\n"
	"  --parallel    share the work with other runs by row claims instead of\n"
	"                refusing to start while another run holds the agency lock\n"
	"\n"
	"Config: [signer] key, cert; [AGENCY] max_records, max_bytes,\n"
	"response_timeout, max_attempts, recipient, upload_url, client_cert,\n"
	"client_key, ca_bundle.\n"
	"\n"
	"Exit: 0 done or nothing to do, 1 failed, 2 usage, 65 some checks refused\n"
	"locally (the rest were sent), 75 another run holds the lock, the database\n"
	"is down, or an upload failed (the packet stays in the outbox, retried\n"
	"next run).\n";

#define FETCH_ROWS 1000
/* While a packet's file exists but its row is not committed, the writer
 * holds advisory lock (3, hashtext(packet id)); the orphan sweep tests it. */

struct agency {
	const char *name; /* "pfr" */
	const char *ns, *root, *xsd;
	const char *recipient_default;
};

static const struct agency agencies[] = {
	{ "pfr", "http://kvs.pfr.com/snils-validation/1.0.1", "SnilsValidationRequest",
	  "pfr-request.xsd", "PFR" },
	{ "fms", "http://fms.gov.ru/passport-validity/1.0.0", "PassportValidityRequest",
	  "fms-request.xsd", "FMS" },
};
#define N_AGENCIES (sizeof agencies / sizeof agencies[0])

/* A growable text buffer for id lists and array literals. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_reset(struct sbuf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

/* Append one element to a PostgreSQL array literal "{a,b}" under construction. */
static void arr_item(struct sbuf *b, const char *v, int quote)
{
	sb_str(b, b->len ? "," : "{");
	if (!quote) {
		sb_str(b, v);
		return;
	}
	sb_str(b, "\"");
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_str(b, "\\");
		sb_add(b, p, 1);
	}
	sb_str(b, "\"");
}

static const char *arr_done(struct sbuf *b)
{
	if (!b->len)
		sb_str(b, "{");
	sb_str(b, "}");
	return b->s;
}

/* State of one agency's run. */
struct run {
	struct ctx *ctx;
	const struct config *cfg;
	const struct agency *ag;
	PGconn *c;
	struct batch b;
	const struct signer *signer;
	char *outdir;
	long long max_records, max_bytes, limit; /* limit 0 = none */
	long sig_bytes; /* what the signature and closing the packet add to it */
	long long claimed;                       /* checks taken this run (for --limit) */
	long long packets, sent, refused, superseded, timed_out, requeued, uploaded, upload_failed;
	long long orphans;
	int lost_claims;    /* packets dropped in a row because their checks moved */
	long long after_id; /* claim checks with ids above this (keyset over the queue) */
	long long last_id;  /* highest id this packet consumed */
	char upload_error[256];
	xmlBufferPtr xbuf; /* the text writer's output, reused per packet */
	struct sbuf sent_ids, sent_versions, bad_ids, bad_reasons, stale_ids;
};

/* ---- 1. sweep: orphan files, temporaries ---- */

static int is_packet_name(const char *n)
{
	static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(n) != sizeof pat - 1 + 4 || strcmp(n + sizeof pat - 1, ".xml"))
		return 0;
	for (size_t i = 0; i < sizeof pat - 1; i++) {
		if (pat[i] == 'x' ? !strchr("0123456789abcdef", n[i]) || !n[i] : n[i] != pat[i])
			return 0;
	}
	return 1;
}

/* Remove outbox files whose packet was never recorded. A writer holds the
 * packet's advisory lock from before the file appears until its commit, so a
 * file whose lock we can take and that has no row is an orphan. */
static int sweep_orphans(struct run *r)
{
	struct sbuf names = { 0 };
	DIR *d;
	struct dirent *de;
	PGresult *res = NULL;
	int ret = -1;

	atomic_sweep(r->outdir);
	d = opendir(r->outdir);
	if (!d)
		return error("cannot open outbox '%s': %m", r->outdir);
	while ((de = readdir(d))) {
		char id[37];
		if (!is_packet_name(de->d_name))
			continue;
		memcpy(id, de->d_name, 36);
		id[36] = '\0';
		arr_item(&names, id, 0);
	}
	closedir(d);
	if (!names.len) {
		ret = 0;
		goto out;
	}
	{
		const char *p[1] = { arr_done(&names) };
		res = db_query(r->c,
			       "SELECT f::text FROM unnest($1::uuid[]) AS f"
			       " WHERE NOT EXISTS (SELECT 1 FROM packets p WHERE p.id = f)",
			       1, p);
	}
	if (!res)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *p[1] = { PQgetvalue(res, i, 0) };
		char *got, *path;

		got = db_scalar(r->c, "SELECT pg_try_advisory_lock(3, hashtext($1))", 1, p);
		if (!got)
			goto out;
		if (strcmp(got, "t")) { /* a live writer: not ours to judge */
			free(got);
			continue;
		}
		free(got);
		got = db_scalar(r->c, "SELECT count(*) FROM packets WHERE id = $1::uuid", 1, p);
		free(db_scalar(r->c, "SELECT pg_advisory_unlock(3, hashtext($1))", 1, p));
		if (!got)
			goto out;
		if (!strcmp(got, "0")) {
			path = xasprintf("%s/%s.xml", r->outdir, p[0]);
			if (unlink(path) == 0 || errno == ENOENT) {
				r->orphans++;
				log_event(LOG_LVL_WARN, "export.orphan_removed",
					  "agency=%s packet=%s", r->ag->name, p[0]);
			} else {
				error("cannot remove orphan packet '%s': %m", path);
			}
			free(path);
		}
		free(got);
	}
	if (r->orphans)
		fsync_dir(r->outdir);
	ret = 0;
out:
	PQclear(res);
	free(names.s);
	return ret;
}

/* ---- 2. timeouts: re-request or give up ---- */

/* FROM ... WHERE of the agency's ($1) checks sent more than $2 seconds ago
 * and still unanswered. In-flight checks are found through the packets that
 * carry them (packets_inflight_idx, then check_ids), not through an index on
 * checks (see 003_hot_paths.sql). */
#define OVERDUE_SQL                                                                  \
	" FROM packets p CROSS JOIN unnest(p.check_ids) AS i (id)"                       \
	" JOIN checks c ON c.id = i.id"                                                  \
	" WHERE p.direction = 'request' AND p.agency = $1"                               \
	" AND p.status IN ('written', 'uploaded')"                                       \
	" AND p.created_at < now() - make_interval(secs => $2::bigint)"                  \
	" AND c.state = 'sent' AND c.packet_id = p.id"                                   \
	" AND c.sent_at < now() - make_interval(secs => $2::bigint)"

static int handle_timeouts(struct run *r)
{
	char tmo[24], maxa[24], id[24];
	const char *p[4] = { r->ag->name, tmo, maxa, id };
	PGresult *res;

	snprintf(tmo, sizeof tmo, "%lld", cfg_dur(r->cfg, r->ag->name, "response_timeout"));
	snprintf(maxa, sizeof maxa, "%lld", cfg_int(r->cfg, r->ag->name, "max_attempts"));
	snprintf(id, sizeof id, "%lld", r->b.id);
	if (db_begin(r->c) < 0)
		return -1;
	res = db_query(r->c,
		"WITH due AS (SELECT c.id" OVERDUE_SQL " FOR UPDATE OF c SKIP LOCKED),"
		" upd AS (UPDATE checks c SET"
		"   state = CASE WHEN c.attempts >= $3::int THEN 'error' ELSE 'pending' END,"
		"   result = CASE WHEN c.attempts >= $3::int THEN 'timeout' END,"
		"   reason = CASE WHEN c.attempts >= $3::int"
		"            THEN format('no answer after %s requests', c.attempts) END"
		"   FROM due WHERE c.id = due.id RETURNING c.state)"
		" SELECT count(*) FILTER (WHERE state = 'pending'),"
		"        count(*) FILTER (WHERE state = 'error'), $4::bigint FROM upd",
		4, p);
	if (!res)
		goto fail;
	r->requeued = atoll(PQgetvalue(res, 0, 0));
	r->timed_out = atoll(PQgetvalue(res, 0, 1));
	PQclear(res);
	if (r->requeued + r->timed_out > 0) {
		/* packets none of whose checks still wait on them */
		if (db_exec(r->c,
			    "UPDATE packets p SET status = 'superseded'"
			    " WHERE p.direction = 'request' AND p.agency = $1"
			    "   AND p.status IN ('written', 'uploaded')"
			    "   AND p.created_at < now() - make_interval(secs => $2::bigint)"
			    "   AND NOT EXISTS (SELECT 1 FROM unnest(p.check_ids) AS i (id)"
			    "                   JOIN checks x ON x.id = i.id"
			    "                   WHERE x.packet_id = p.id AND x.state = 'sent')",
			    2, p) < 0)
			goto fail;
		log_event(LOG_LVL_INFO, "export.timeouts", "agency=%s requeued=%lld error=%lld",
			  r->ag->name, r->requeued, r->timed_out);
	}
	return db_commit(r->c);
fail:
	db_rollback(r->c);
	return -1;
}

/* ---- 3. packets ---- */

enum col { C_ID, C_ACCOUNT, C_VERSION, C_STALE, C_FAMILY, C_FIRST, C_PATRONYMIC, C_GENDER,
	   C_BIRTH, C_SNILS, C_SERIES, C_NUMBER, C_ISSUED, C_ISSUER };

static const char claim_sql[] =
	"DECLARE claim NO SCROLL CURSOR FOR"
	" SELECT ch.id, ch.account_id, a.data_version,"
	"  ch.data_version < a.data_version AND EXISTS (SELECT 1 FROM checks n"
	"   WHERE n.account_id = ch.account_id AND n.agency = ch.agency"
	"   AND n.data_version > ch.data_version),"
	"  a.family_name, a.first_name, a.patronymic, a.gender, a.birth_date, a.snils,"
	"  a.passport_series, a.passport_number, a.passport_issue_date, a.passport_issuer_code"
	" FROM checks ch JOIN accounts a ON a.id = ch.account_id"
	/* checks_queue_idx: a range scan from where the last packet stopped */
	" WHERE ch.agency = $1 AND ch.queued AND ch.id > $3::bigint"
	" ORDER BY ch.id LIMIT $2::bigint";
/* With --parallel, runs share the queue by locking what they take. Alone
 * (the job lock held), nothing locks: the UPDATE that marks the checks sent
 * only takes rows still pending, and a count short of the packet means
 * someone else moved one, so the packet is dropped and taken again. */
static const char claim_lock_sql[] = " FOR UPDATE OF ch SKIP LOCKED";

static const char *val(PGresult *res, int i, enum col c)
{
	return PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
}

/* Validate one record and write it. 1 written, 0 refused (reason in why,
 * naming the field, never its value), -1 writer error. */
static int write_record(struct run *r, xmlTextWriterPtr w, PGresult *res, int i, char *why,
			size_t wn)
{
	char family[256], first[256], patr[256], snils[16], pass[16], issuer[16];
	const char *p = val(res, i, C_PATRONYMIC), *birth = val(res, i, C_BIRTH);
	const char *fv = val(res, i, C_FAMILY), *nv = val(res, i, C_FIRST);
	int pfr = !strcmp(r->ag->name, "pfr"), rc = 0, y, m, d;
	const char *e = NULL;

#define REFUSE(...)                                  \
	do {                                         \
		snprintf(why, wn, __VA_ARGS__);      \
		return 0;                            \
	} while (0)
	if (!fv)
		REFUSE("family name: missing");
	if (valid_name(fv, family, sizeof family, &e) < 0)
		REFUSE("family name: %s", e);
	if (!nv)
		REFUSE("first name: missing");
	if (valid_name(nv, first, sizeof first, &e) < 0)
		REFUSE("first name: %s", e);
	patr[0] = '\0';
	if (p && *p && valid_name(p, patr, sizeof patr, &e) < 0)
		REFUSE("patronymic: %s", e);
	if (!birth || valid_date(birth, &y, &m, &d) < 0)
		REFUSE("birth date: missing");
	if (pfr) {
		const char *sv = val(res, i, C_SNILS), *g = val(res, i, C_GENDER);
		if (!sv)
			REFUSE("snils: missing");
		if (valid_snils(sv, snils, sizeof snils, &e) < 0)
			REFUSE("snils: %s", e);
		if (!g || (strcmp(g, "M") && strcmp(g, "F")))
			REFUSE("gender: missing");
	} else {
		const char *se = val(res, i, C_SERIES), *nu = val(res, i, C_NUMBER);
		const char *is = val(res, i, C_ISSUED), *co = val(res, i, C_ISSUER);
		char sernum[16];
		if (!se || !nu || !is || !co)
			REFUSE("passport: incomplete");
		snprintf(sernum, sizeof sernum, "%s %s", se, nu);
		if (valid_passport(sernum, is, birth, co, NULL, pass, sizeof pass, &e) < 0)
			REFUSE("passport: %s", e);
		if (valid_issuer_code(co, issuer, sizeof issuer, &e) < 0)
			REFUSE("passport issuer code: %s", e);
	}
#undef REFUSE

	rc |= xmlTextWriterStartElement(w, BAD_CAST "Record") < 0;
	rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "CheckId", BAD_CAST val(res, i, C_ID)) < 0;
	rc |= xmlTextWriterWriteElement(w, BAD_CAST "FamilyName", BAD_CAST family) < 0;
	rc |= xmlTextWriterWriteElement(w, BAD_CAST "FirstName", BAD_CAST first) < 0;
	if (*patr)
		rc |= xmlTextWriterWriteElement(w, BAD_CAST "Patronymic", BAD_CAST patr) < 0;
	if (pfr) {
		rc |= xmlTextWriterWriteElement(w, BAD_CAST "Snils", BAD_CAST snils) < 0;
		rc |= xmlTextWriterWriteElement(w, BAD_CAST "Gender",
						BAD_CAST val(res, i, C_GENDER)) < 0;
		rc |= xmlTextWriterWriteElement(w, BAD_CAST "BirthDate", BAD_CAST birth) < 0;
	} else {
		char ser[5], num[7];
		memcpy(ser, pass, 4);
		ser[4] = '\0';
		memcpy(num, pass + 4, 6);
		num[6] = '\0';
		rc |= xmlTextWriterWriteElement(w, BAD_CAST "BirthDate", BAD_CAST birth) < 0;
		rc |= xmlTextWriterWriteElement(w, BAD_CAST "Series", BAD_CAST ser) < 0;
		rc |= xmlTextWriterWriteElement(w, BAD_CAST "Number", BAD_CAST num) < 0;
		rc |= xmlTextWriterWriteElement(w, BAD_CAST "IssueDate",
						BAD_CAST val(res, i, C_ISSUED)) < 0;
		rc |= xmlTextWriterWriteElement(w, BAD_CAST "IssuerCode", BAD_CAST issuer) < 0;
	}
	rc |= xmlTextWriterEndElement(w) < 0;
	rc |= xmlTextWriterFlush(w) < 0;
	return rc ? -1 : 1;
}

static void new_packet_id(char out[37])
{
	unsigned char u[16];

	if (RAND_bytes(u, sizeof u) != 1) {
		/* the CSPRNG failing is not recoverable */
		fprintf(stderr, "esia-batch: fatal: no random bytes\n");
		abort();
	}
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
		 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
}

/* Parse the streamed packet, set RecordCount, sign and serialise.
 * *out is xmlFree()d by the caller. */
static int sign_packet(struct run *r, long long records, xmlChar **out, int *outlen)
{
	xmlDocPtr doc;
	char n[24];
	int ret = -1;

	doc = xmlReadMemory((const char *)xmlBufferContent(r->xbuf), xmlBufferLength(r->xbuf),
			    NULL, "UTF-8", XML_PARSE_NONET);
	if (!doc)
		return error("cannot re-read the packet just written (bug)");
	snprintf(n, sizeof n, "%lld", records);
	if (!xmlSetProp(xmlDocGetRootElement(doc), BAD_CAST "RecordCount", BAD_CAST n)) {
		error("cannot set RecordCount");
		goto out;
	}
	if (xmlsig_sign(doc, r->signer) < 0)
		goto out;
	xmlDocDumpMemoryEnc(doc, out, outlen, "UTF-8");
	if (!*out) {
		error("cannot serialise the signed packet");
		goto out;
	}
	ret = 0;
out:
	xmlFreeDoc(doc);
	return ret;
}

/* One packet in one transaction. Returns 1 if it did something (more may be
 * waiting), 0 when nothing was pending, -1 on error. */
static int one_packet(struct run *r)
{
	char packet_id[37], created[32], lim[24], bid[24], hex[65], nrec[24], nbytes[24], after[24];
	unsigned char sha[SHA256_DIGEST_LENGTH];
	xmlTextWriterPtr w = NULL;
	PGresult *res = NULL;
	xmlChar *signedbuf = NULL;
	int signedlen = 0, written = 0, ret = -1, got = 0;
	long long records = 0, want, refused = 0, stale = 0;
	char *path = NULL, *fname = NULL;
	time_t now = time(NULL);
	struct tm tm;

	want = r->max_records;
	if (r->limit && r->limit - r->claimed < want)
		want = r->limit - r->claimed;
	if (want <= 0)
		return 0;
	snprintf(lim, sizeof lim, "%lld", want);
	snprintf(bid, sizeof bid, "%lld", r->b.id);
	new_packet_id(packet_id);
	gmtime_r(&now, &tm);
	strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
	fname = xasprintf("%s.xml", packet_id);
	path = xasprintf("%s/%s", r->outdir, fname);
	sb_reset(&r->sent_ids);
	sb_reset(&r->sent_versions);
	sb_reset(&r->bad_ids);
	sb_reset(&r->bad_reasons);
	sb_reset(&r->stale_ids);

	r->last_id = r->after_id;
	if (db_begin(r->c) < 0)
		goto out;
	{
		const char *p[1] = { packet_id };
		if (db_exec(r->c, "SELECT pg_advisory_xact_lock(3, hashtext($1))", 1, p) < 0)
			goto fail;
	}
	{
		const char *p[3] = { r->ag->name, lim, after };
		char *sql = xasprintf("%s%s", claim_sql, r->ctx->parallel ? claim_lock_sql : "");
		int rc;

		snprintf(after, sizeof after, "%lld", r->after_id);
		rc = db_exec(r->c, sql, 3, p);
		free(sql);
		if (rc < 0)
			goto fail;
	}

	xmlBufferEmpty(r->xbuf);
	w = xmlNewTextWriterMemory(r->xbuf, 0);
	if (!w || xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL) < 0 ||
	    xmlTextWriterStartElement(w, BAD_CAST r->ag->root) < 0 ||
	    xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns", BAD_CAST r->ag->ns) < 0 ||
	    xmlTextWriterWriteAttribute(w, BAD_CAST "PacketId", BAD_CAST packet_id) < 0 ||
	    xmlTextWriterWriteAttribute(w, BAD_CAST "CreatedAt", BAD_CAST created) < 0 ||
	    xmlTextWriterWriteAttribute(w, BAD_CAST "Sender",
					BAD_CAST cfg_str(r->cfg, "signer", "sender")) < 0 ||
	    xmlTextWriterWriteAttribute(w, BAD_CAST "Recipient",
					BAD_CAST(*cfg_str(r->cfg, r->ag->name, "recipient")
							 ? cfg_str(r->cfg, r->ag->name, "recipient")
							 : r->ag->recipient_default)) < 0 ||
	    xmlTextWriterWriteAttribute(w, BAD_CAST "RecordCount", BAD_CAST "0") < 0) {
		error("cannot start the packet");
		goto fail;
	}

	for (int full = 0; !full;) {
		int rows;

		res = db_query(r->c, "FETCH 1000 FROM claim", 0, NULL);
		if (!res)
			goto fail;
		rows = PQntuples(res);
		if (!rows)
			break;
		got += rows;
		for (int i = 0; i < rows && !full; i++) {
			char why[160];
			int before = xmlBufferLength(r->xbuf), wr;
			long long cid = atoll(val(res, i, C_ID));

			if (!strcmp(PQgetvalue(res, i, C_STALE), "t")) {
				arr_item(&r->stale_ids, val(res, i, C_ID), 0);
				stale++;
				r->last_id = cid;
				continue;
			}
			wr = write_record(r, w, res, i, why, sizeof why);
			if (wr < 0) {
				error("cannot write record %s", val(res, i, C_ID));
				goto fail;
			}
			if (wr == 0) {
				arr_item(&r->bad_ids, val(res, i, C_ID), 0);
				arr_item(&r->bad_reasons, why, 1);
				refused++;
				r->last_id = cid;
				log_event(LOG_LVL_INFO, "export.refused", "agency=%s check=%s reason=\"%s\"",
					  r->ag->name, val(res, i, C_ID), why);
				continue;
			}
			if (xmlBufferLength(r->xbuf) + r->sig_bytes > r->max_bytes) {
				/* does not fit: take it back, it stays pending */
				r->xbuf->use = (unsigned)before;
				r->xbuf->content[before] = '\0';
				full = 1;
				if (!records) {
					error("[%s] max_bytes %lld is too small for one record",
					      r->ag->name, r->max_bytes);
					goto fail;
				}
				break;
			}
			arr_item(&r->sent_ids, val(res, i, C_ID), 0);
			arr_item(&r->sent_versions, val(res, i, C_VERSION), 0);
			records++;
			r->last_id = cid;
		}
		PQclear(res);
		res = NULL;
		if (rows < FETCH_ROWS)
			break;
	}
	if (db_exec(r->c, "CLOSE claim", 0, NULL) < 0)
		goto fail;
	if (!got) {
		db_rollback(r->c);
		ret = 0;
		goto out;
	}
	r->claimed += records + refused + stale;

	if (records) {
		if (xmlTextWriterEndDocument(w) < 0) {
			error("cannot finish the packet");
			goto fail;
		}
		xmlFreeTextWriter(w);
		w = NULL;
		if (sign_packet(r, records, &signedbuf, &signedlen) < 0)
			goto fail;
		if (signedlen > r->max_bytes) {
			error("signed packet is %d bytes, over [%s] max_bytes %lld", signedlen,
			      r->ag->name, r->max_bytes);
			goto fail;
		}
		SHA256(signedbuf, (size_t)signedlen, sha);
		for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
			snprintf(hex + 2 * i, 3, "%02x", sha[i]);
		if (atomic_write(path, signedbuf, (size_t)signedlen, 0600) < 0)
			goto fail;
		written = 1;
		fault_point("export.after_write");
		snprintf(nrec, sizeof nrec, "%lld", records);
		snprintf(nbytes, sizeof nbytes, "%d", signedlen);
		{
			const char *p[8] = { packet_id, r->ag->name, bid, fname, hex, nrec, nbytes,
					     arr_done(&r->sent_ids) };
			if (db_exec(r->c,
				    "INSERT INTO packets (id, direction, agency, batch_id, file_name,"
				    " sha256, records, bytes, status, check_ids)"
				    " VALUES ($1, 'request', $2, $3, $4, $5, $6, $7, 'written', $8::bigint[])",
				    8, p) < 0)
				goto fail;
		}
		{
			/* sent_ids was closed for the packet row above */
			const char *p[3] = { packet_id, r->sent_ids.s, arr_done(&r->sent_versions) };
			char *n = db_scalar(r->c,
					    "WITH u AS (UPDATE checks c SET state = 'sent', packet_id = $1,"
					    " attempts = c.attempts + 1, sent_at = now(),"
					    " data_version = v.dv, result = NULL, reason = NULL"
					    " FROM unnest($2::bigint[], $3::int[]) AS v (id, dv)"
					    " WHERE c.id = v.id AND c.state = 'pending' RETURNING 1)"
					    " SELECT count(*) FROM u",
					    3, p);
			int moved = n && atoll(n) != records;

			free(n);
			if (!n)
				goto fail;
			if (moved) {
				log_event(LOG_LVL_WARN, "export.claim_lost",
					  "agency=%s packet=%s: checks changed while the packet was"
					  " written; dropped, they are taken again",
					  r->ag->name, packet_id);
				goto fail_retry;
			}
		}
	}
	if (refused) {
		const char *p[4] = { arr_done(&r->bad_ids), arr_done(&r->bad_reasons), bid,
				     r->ag->name };
		if (db_exec(r->c,
			    "WITH f AS (UPDATE checks c SET state = 'failed', result = 'local_invalid',"
			    "   reason = v.reason, answered_at = now()"
			    "   FROM unnest($1::bigint[], $2::text[]) AS v (id, reason)"
			    "   WHERE c.id = v.id AND c.state = 'pending' RETURNING c.id, c.account_id, v.reason),"
			    " a AS (UPDATE accounts SET data_status = 'rejected',"
			    "   data_reject_reason = f.reason, updated_at = now()"
			    "   FROM f WHERE accounts.id = f.account_id)"
			    " SELECT enqueue_notices('check_failed', array_agg(f.account_id),"
			    "   array_agg('check_failed:' || f.id),"
			    "   array_agg(jsonb_build_object('agency', $4::text, 'reason', f.reason)), $3::bigint)"
			    " FROM f",
			    4, p) < 0)
			goto fail;
	}
	if (stale) {
		const char *p[1] = { arr_done(&r->stale_ids) };
		if (db_exec(r->c,
			    "UPDATE checks SET state = 'superseded', reason = 'newer data is being checked'"
			    " WHERE id = ANY ($1::bigint[]) AND state = 'pending'",
			    1, p) < 0)
			goto fail;
	}
	r->b.records += records;
	r->b.rejected += refused;
	if (batch_update_counts(r->c, &r->b) < 0)
		goto fail;
	fault_point("export.before_commit");
	/* After this point a failure leaves the file: if the commit did happen,
	 * it is a live packet; if not, the next run's sweep removes it. */
	written = 0;
	if (db_commit(r->c) < 0)
		goto out;
	fault_point("export.after_commit");
	r->after_id = r->last_id;
	if (records) {
		r->packets++;
		r->sent += records;
		log_event(LOG_LVL_INFO, "export.packet", "agency=%s packet=%s records=%lld bytes=%d",
			  r->ag->name, packet_id, records, signedlen);
	}
	r->refused += refused;
	r->superseded += stale;
	r->lost_claims = 0;
	ret = 1;
	goto out;
fail_retry:
	r->claimed -= records + refused + stale;
	if (++r->lost_claims <= 3)
		ret = 1;
	else
		error("[%s] checks keep changing under the export; giving up", r->ag->name);
fail:
	db_rollback(r->c);
	if (written && unlink(path) == 0)
		fsync_dir(r->outdir);
out:
	PQclear(res);
	if (w)
		xmlFreeTextWriter(w);
	xmlFree(signedbuf);
	free(path);
	free(fname);
	return ret;
}

/* ---- 4. upload ---- */

static int upload_pending(struct run *r)
{
	PGresult *res;
	const char *p[1] = { r->ag->name };

	if (!*cfg_str(r->cfg, r->ag->name, "upload_url"))
		return 0;
	res = db_query(r->c,
		       "SELECT id, file_name FROM packets WHERE direction = 'request'"
		       " AND agency = $1 AND status = 'written' ORDER BY created_at, id",
		       1, p);
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *q[1] = { PQgetvalue(res, i, 0) };
		const char *name = PQgetvalue(res, i, 1);
		char *path = xasprintf("%s/%s", r->outdir, name), why[256], *mine;
		int u;

		/* claim it, so parallel runs do not upload the same packet at once */
		if (db_begin(r->c) < 0) {
			free(path);
			PQclear(res);
			return -1;
		}
		mine = db_scalar(r->c,
				 "SELECT count(*) FROM (SELECT 1 FROM packets WHERE id = $1"
				 " AND status = 'written' FOR UPDATE SKIP LOCKED) AS x",
				 1, q);
		if (!mine || strcmp(mine, "1")) {
			db_rollback(r->c);
			free(mine);
			free(path);
			if (!mine) {
				PQclear(res);
				return -1;
			}
			continue;
		}
		free(mine);
		u = upload_file(r->cfg, r->ag->name, path, name, why, sizeof why);
		if (u == UPLOAD_OK) {
			if (db_exec(r->c, "UPDATE packets SET status = 'uploaded' WHERE id = $1", 1,
				    q) < 0 ||
			    db_commit(r->c) < 0) {
				free(path);
				PQclear(res);
				return -1;
			}
			r->uploaded++;
			log_event(LOG_LVL_INFO, "export.uploaded", "agency=%s packet=%s", r->ag->name,
				  q[0]);
		} else {
			db_rollback(r->c);
			r->upload_failed++;
			snprintf(r->upload_error, sizeof r->upload_error, "upload of %.40s failed: %.180s",
				 name, why);
			log_event(LOG_LVL_WARN, "export.upload_failed", "agency=%s packet=%s error=\"%s\"",
				  r->ag->name, q[0], why);
		}
		free(path);
	}
	PQclear(res);
	return 0;
}

/* ---- the agency's run ---- */

/* Anything to do? Pending checks, timed-out ones, or packets to upload. */
static int has_work(struct run *r)
{
	char tmo[24], up[2] = "f";
	const char *p[3] = { r->ag->name, tmo, up };
	char *v;
	int yes;

	snprintf(tmo, sizeof tmo, "%lld", cfg_dur(r->cfg, r->ag->name, "response_timeout"));
	if (*cfg_str(r->cfg, r->ag->name, "upload_url"))
		up[0] = 't';
	v = db_scalar(r->c,
		      "SELECT EXISTS (SELECT 1 FROM checks WHERE agency = $1 AND queued)"
		      " OR EXISTS (SELECT 1" OVERDUE_SQL ")"
		      " OR ($3::bool AND EXISTS (SELECT 1 FROM packets WHERE agency = $1"
		      "            AND direction = 'request' AND status = 'written'))",
		      3, p);
	if (!v)
		return -1;
	yes = !strcmp(v, "t");
	free(v);
	return yes;
}

/* The signer, loaded on first need (a run with nothing to do needs no key). */
struct lazy_signer {
	struct signer *s;
	int inited;
};

static const struct signer *get_signer(struct lazy_signer *ls, const struct config *cfg)
{
	if (ls->s)
		return ls->s;
	if (!ls->inited) {
		if (xmlsig_init() < 0)
			return NULL;
		ls->inited = 1;
	}
	ls->s = signer_load_config(cfg);
	return ls->s;
}

static int run_agency(struct ctx *ctx, const struct agency *ag, struct lazy_signer *ls,
		      PGconn *c, long long limit, int argc, char **argv)
{
	struct run r = { 0 };
	struct progress pr;
	char *params = NULL, *spool = NULL;
	int ret = EXIT_FAILED, started = 0, work, st;
	const char *status = "failed";
	char errmsg[300] = "";

	r.ctx = ctx;
	r.cfg = ctx->cfg;
	r.ag = ag;
	r.c = c;
	r.limit = limit;
	r.max_records = cfg_int(r.cfg, ag->name, "max_records");
	r.max_bytes = cfg_int(r.cfg, ag->name, "max_bytes");
	if (r.max_records < 1 || r.max_bytes < 4096) {
		error("[%s] max_records must be at least 1 and max_bytes at least 4096", ag->name);
		return EXIT_FAILED;
	}
	spool = cfg_spool(r.cfg, "outbox");
	r.outdir = xasprintf("%s/%s", spool, ag->name);
	free(spool);
	if (mkdir_p(r.outdir, 0700) < 0)
		goto out;

	work = has_work(&r);
	if (work < 0) {
		ret = db_is_down(c) ? EXIT_TEMPFAIL : EXIT_FAILED;
		goto out;
	}
	if (!work) {
		if (ctx->verbosity >= 0)
			printf("export-checks %s: nothing to do\n", ag->name);
		ret = EXIT_DONE;
		goto out;
	}

	r.signer = get_signer(ls, r.cfg);
	if (!r.signer)
		goto out;
	/* the signature with its certificates, the root's end tag and room for
	 * the final RecordCount: a packet that fits before signing fits after */
	r.sig_bytes = xmlsig_overhead(r.signer);
	if (r.sig_bytes < 0)
		goto out;
	r.sig_bytes += 64;
	params = batch_params_argv(argc, argv);
	st = batch_start(c, &r.b, "export-checks", ag->name,
			 ctx->parallel ? LOCK_SHARED_WORK : LOCK_EXCLUSIVE, params, ctx->rerun_of);
	if (st) {
		ret = st == EXIT_TEMPFAIL ? EXIT_TEMPFAIL : EXIT_FAILED;
		goto out;
	}
	started = 1;
	r.xbuf = xmlBufferCreateSize(1 << 16);
	if (!r.xbuf) {
		snprintf(errmsg, sizeof errmsg, "out of memory");
		goto finish;
	}

	if (sweep_orphans(&r) < 0 || upload_pending(&r) < 0 || handle_timeouts(&r) < 0) {
		snprintf(errmsg, sizeof errmsg, "preparing the run failed");
		goto finish;
	}
	progress_start(&pr, ag->name, 0);
	for (int again = 1;;) {
		long long before = r.sent + r.refused;
		int k = one_packet(&r);
		if (k < 0) {
			progress_end(&pr);
			snprintf(errmsg, sizeof errmsg, "writing a packet failed after %lld packets",
				 r.packets);
			goto finish;
		}
		if (k == 0 && again && r.after_id > 0) {
			/* one more pass from the start for checks skipped while
			 * another run held them (and then let them go) */
			r.after_id = 0;
			again = 0;
			continue;
		}
		if (k == 0)
			break;
		progress_add(&pr, r.sent + r.refused - before);
	}
	progress_end(&pr);
	if (upload_pending(&r) < 0) {
		snprintf(errmsg, sizeof errmsg, "recording uploads failed");
		goto finish;
	}

	if (r.upload_failed) {
		status = "partial";
		snprintf(errmsg, sizeof errmsg, "%s", r.upload_error);
		ret = EXIT_TEMPFAIL;
	} else {
		status = "succeeded";
		ret = r.refused ? EXIT_DATAERR : EXIT_DONE;
	}
	if (ctx->verbosity >= 0) {
		printf("export-checks %s: %lld packets, %lld checks sent (%lld re-requested),"
		       " %lld refused locally, %lld timed out, %lld superseded",
		       ag->name, r.packets, r.sent, r.requeued, r.refused, r.timed_out, r.superseded);
		if (*cfg_str(r.cfg, ag->name, "upload_url"))
			printf(", %lld uploaded, %lld upload failures", r.uploaded, r.upload_failed);
		if (r.orphans)
			printf(", %lld orphan files removed", r.orphans);
		putchar('\n');
	}
finish:
	if (started) {
		if (!strcmp(status, "failed"))
			ret = db_is_down(c) ? EXIT_TEMPFAIL : EXIT_FAILED;
		batch_finish(c, &r.b, status, *errmsg ? errmsg : NULL);
		if (*errmsg && strcmp(status, "succeeded"))
			error("export-checks %s: %s", ag->name, errmsg);
	}
out:
	if (r.xbuf)
		xmlBufferFree(r.xbuf);
	free(r.sent_ids.s);
	free(r.sent_versions.s);
	free(r.bad_ids.s);
	free(r.bad_reasons.s);
	free(r.stale_ids.s);
	free(r.outdir);
	free(params);
	return ret;
}

/* Exit code of two runs: failure beats temporary failure beats data errors. */
static int worse(int a, int b)
{
	static const int rank[] = { EXIT_DONE, EXIT_DATAERR, EXIT_TEMPFAIL, EXIT_FAILED };
	int ra = 0, rb = 0;

	for (int i = 0; i < 4; i++) {
		if (rank[i] == a)
			ra = i;
		if (rank[i] == b)
			rb = i;
	}
	return ra >= rb ? a : b;
}

/* One agency's whole run on its own connection. */
static int export_agency(struct ctx *ctx, const struct agency *ag, long long limit,
			 const char *limit_s, char **argv)
{
	struct lazy_signer ls = { NULL, 0 };
	char *av[6];
	int ac = 0, ret;
	PGconn *c = ctx_connect(ctx);

	if (!c)
		return EXIT_TEMPFAIL;
	/* each agency's batch records a command that replays just that agency */
	av[ac++] = argv[0];
	av[ac++] = "--agency";
	av[ac++] = (char *)ag->name;
	if (limit_s) {
		av[ac++] = "--limit";
		av[ac++] = (char *)limit_s;
	}
	av[ac] = NULL;
	ret = run_agency(ctx, ag, &ls, c, limit, ac, av);
	signer_free(ls.s);
	if (ls.inited)
		xmlsig_shutdown();
	upload_shutdown();
	PQfinish(c);
	return ret;
}

struct export_args {
	struct ctx *ctx;
	long long limit;
	const char *limit_s;
	char **argv;
};

static int export_worker(int k, int n, void *arg, int fd)
{
	struct export_args *a = arg;

	(void)n, (void)fd;
	return export_agency(a->ctx, &agencies[k], a->limit, a->limit_s, a->argv);
}

CMD(cmd_export_checks)
{
	const char *only = NULL, *limit_s = NULL;
	long long limit = 0;
	int ret = EXIT_DONE;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--agency") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
			limit_s = argv[++i];
		else
			return usage_error(usage, "unknown or incomplete option \"%s\"", argv[i]);
	}
	if (only && strcmp(only, "pfr") && strcmp(only, "fms"))
		return usage_error(usage, "unknown agency \"%s\" (pfr or fms)", only);
	if (limit_s && (parse_int(limit_s, &limit) < 0 || limit < 1))
		return usage_error(usage, "--limit needs a positive number, not \"%s\"", limit_s);

	/* Every packet allocates and frees the same few MiB (the claimed rows,
	 * the streamed packet, its DOM, the signed copy). Keep that memory in
	 * the process instead of giving it back to the kernel after each packet
	 * and faulting it in again (perf: ~15% of our CPU in page faults and
	 * brk); the peak stays what one packet needs. */
	mallopt(M_TRIM_THRESHOLD, 32 << 20);
	mallopt(M_MMAP_THRESHOLD, 16 << 20);
	if (only) {
		for (size_t k = 0; k < N_AGENCIES; k++)
			if (!strcmp(only, agencies[k].name))
				return export_agency(ctx, &agencies[k], limit, limit_s, argv);
	}
	/* Both agencies: each in its own process, with its own connection, lock
	 * and batch. They share nothing but the database, so PFR and FMS packets
	 * are built and recorded side by side (about 1.7x on two cores). */
	{
		struct export_args a = { ctx, limit, limit_s, argv };
		int codes[N_AGENCIES];
		char none;

		workers_run(N_AGENCIES, export_worker, &a, NULL, &none, 0, codes);
		for (size_t k = 0; k < N_AGENCIES; k++) {
			if (codes[k] == WORKER_NOT_STARTED) {
				error("cannot start the %s export; running it here", agencies[k].name);
				codes[k] = export_agency(ctx, &agencies[k], limit, limit_s, argv);
			} else if (codes[k] < 0) {
				error("the %s export died (signal %d)", agencies[k].name, -codes[k]);
				codes[k] = EXIT_FAILED;
			}
			ret = worse(ret, codes[k]);
		}
	}
	return ret;
}
