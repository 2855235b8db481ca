/* export-checks: one packet in one transaction. Claim up to max_records
 * pending checks (a cursor over the queue; FOR UPDATE SKIP LOCKED with
 * --parallel), validate each locally (refused -> failed + notice), stream the
 * rest with the text writer (bounded by max_bytes, the signature counted),
 * sign, write the file atomically (0600), then record the packet and mark
 * the checks sent, and commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "atomic.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "esia-batch.h"
#include "export.h"
#include "fault.h"
#include "log.h"
#include "validate.h"
#include "xmlsig.h"

#define FETCH_ROWS 1000
/* While a packet's file exists but its row is not committed, the writer
 * holds advisory lock (3, hashtext(packet id)); the orphan sweep tests it. */

enum col { C_ID, C_ACCOUNT, C_VERSION, C_STALE, C_FAMILY, C_FIRST, C_PATRONYMIC, C_GENDER,
	   C_BIRTH, C_SNILS, C_SERIES, C_NUMBER, C_ISSUED, C_ISSUER, C_TID };

static const char claim_sql[] =
	"DECLARE claim NO SCROLL CURSOR FOR"
	" SELECT q.check_id, x.account_id, x.data_version, x.stale, x.family_name, x.first_name,"
	"  x.patronymic, x.gender, x.birth_date, x.snils, x.passport_series, x.passport_number,"
	"  x.passport_issue_date, x.passport_issuer_code, q.ctid"
	/* check_queue's key: a range scan from where the last packet stopped */
	" FROM check_queue q LEFT JOIN LATERAL (SELECT ch.account_id, a.data_version,"
	"  ch.data_version < a.data_version AND EXISTS (SELECT 1 FROM checks n"
	"   WHERE n.account_id = ch.account_id AND n.agency = ch.agency"
	"   AND n.data_version > ch.data_version) AS stale,"
	"  a.family_name, a.first_name, a.patronymic, a.gender, a.birth_date, a.snils,"
	"  a.passport_series, a.passport_number, a.passport_issue_date, a.passport_issuer_code"
	"  FROM checks ch JOIN accounts a ON a.id = ch.account_id"
	"  WHERE ch.id = q.check_id AND ch.state = 'pending') x ON true"
	" WHERE q.agency = $1 AND q.check_id > $3::bigint"
	" ORDER BY q.check_id LIMIT $2::bigint";
/* A queue row whose check is no longer pending (someone else settled it)
 * comes back without data and is dropped. With --parallel, runs share the
 * queue by locking the queue rows they take. Alone (the job lock held),
 * nothing locks: the UPDATE that marks the checks sent only takes rows still
 * pending, and a count short of the packet means someone else moved one, so
 * the packet is dropped and taken again. */
static const char claim_lock_sql[] = " FOR UPDATE OF q SKIP LOCKED";

static const char *val(PGresult *res, int i, enum col c)
{
	return PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
}

/* Validate one record and write it. 1 written, 0 refused (reason in why,
 * in the citizen's Russian: the field and what to fix, never its value),
 * -1 writer error. */
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
		REFUSE("Фамилия: не указана");
	if (valid_name(fv, family, sizeof family, &e) < 0)
		REFUSE("Фамилия: %s", valid_why_ru(e));
	if (!nv)
		REFUSE("Имя: не указано");
	if (valid_name(nv, first, sizeof first, &e) < 0)
		REFUSE("Имя: %s", valid_why_ru(e));
	patr[0] = '\0';
	if (p && *p && valid_name(p, patr, sizeof patr, &e) < 0)
		REFUSE("Отчество: %s", valid_why_ru(e));
	if (!birth || valid_date(birth, &y, &m, &d) < 0)
		REFUSE("Дата рождения: не указана или указана неверно");
	if (pfr) {
		const char *sv = val(res, i, C_SNILS), *g = val(res, i, C_GENDER);
		if (!sv)
			REFUSE("СНИЛС: не указан");
		if (valid_snils(sv, snils, sizeof snils, &e) < 0)
			REFUSE("СНИЛС: %s", valid_why_ru(e));
		if (!g || (strcmp(g, "M") && strcmp(g, "F")))
			REFUSE("Пол: не указан");
	} else {
		const char *se = val(res, i, C_SERIES), *nu = val(res, i, C_NUMBER);
		const char *is = val(res, i, C_ISSUED), *co = val(res, i, C_ISSUER);
		char sernum[16];
		if (!se || !nu || !is || !co)
			REFUSE("Паспорт: укажите серию, номер, дату выдачи и код подразделения");
		snprintf(sernum, sizeof sernum, "%s %s", se, nu);
		if (valid_passport(sernum, is, birth, co, NULL, pass, sizeof pass, &e) < 0)
			REFUSE("Паспорт: %s", valid_why_ru(e));
		if (valid_issuer_code(co, issuer, sizeof issuer, &e) < 0)
			REFUSE("Код подразделения: %s", valid_why_ru(e));
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

/* The packet file is DECL, then the root's start tag, the records, the
 * ds:Signature and the root's end tag. Everything but the signature is
 * written in exclusive canonical form, so those bytes are what the
 * signature's digest covers, with no re-reading (xmlsig_sign_c14n): the
 * start tag by packet_head(), the records by the text writer, whose output
 * is canonical because every value it writes passed a validator that admits
 * no character it would escape (one_packet checks: no '&' at all). */
#define DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

/* An attribute value as exclusive C14N writes it. */
static void c14n_attr(struct sbuf *b, const char *v)
{
	for (; *v; v++)
		switch (*v) {
		case '&': sb_str(b, "&amp;"); break;
		case '<': sb_str(b, "&lt;"); break;
		case '"': sb_str(b, "&quot;"); break;
		case '\t': sb_str(b, "&#x9;"); break;
		case '\n': sb_str(b, "&#xA;"); break;
		case '\r': sb_str(b, "&#xD;"); break;
		default: sb_add(b, v, 1);
		}
}

/* The root's start tag, canonical: the namespace first, then the attributes
 * in name order. */
static void packet_head(struct run *r, struct sbuf *b, const char *packet_id,
			const char *created, long long records)
{
	const char *rcpt = cfg_str(r->cfg, r->ag->name, "recipient");
	char n[24];

	snprintf(n, sizeof n, "%lld", records);
	sb_reset(b);
	sb_str(b, "<");
	sb_str(b, r->ag->root);
	sb_str(b, " xmlns=\"");
	c14n_attr(b, r->ag->ns);
	sb_str(b, "\" CreatedAt=\"");
	c14n_attr(b, created);
	sb_str(b, "\" PacketId=\"");
	c14n_attr(b, packet_id);
	sb_str(b, "\" Recipient=\"");
	c14n_attr(b, *rcpt ? rcpt : r->ag->recipient_default);
	sb_str(b, "\" RecordCount=\"");
	sb_str(b, n);
	sb_str(b, "\" Sender=\"");
	c14n_attr(b, cfg_str(r->cfg, "signer", "sender"));
	sb_str(b, "\">");
}

long packet_frame_bytes(struct run *r)
{
	struct sbuf b = { 0 };
	long n;

	/* ids and times have fixed widths; RecordCount at most max_records */
	packet_head(r, &b, "00000000-0000-0000-0000-000000000000", "2000-01-01T00:00:00Z",
		    r->max_records);
	n = (long)(strlen(DECL) + b.len + xmlsig_signature_bytes(r->signer) + strlen(r->ag->root) +
		   4);
	free(b.s);
	return n;
}

/* Sign the records in r->xbuf and lay out the file. *out is free()d by the
 * caller. */
static int sign_packet(struct run *r, const char *packet_id, const char *created,
		       long long records, char **out, size_t *outlen)
{
	const char *body = (const char *)xmlBufferContent(r->xbuf);
	size_t bodylen = (size_t)xmlBufferLength(r->xbuf), siglen;
	char *tail = xasprintf("</%s>", r->ag->root), *sig = NULL;
	int ret = -1;

	if (memchr(body, '&', bodylen)) {
		error("a record needed escaping, so the packet is not canonical (bug)");
		goto out;
	}
	packet_head(r, &r->head, packet_id, created, records);
	{
		const struct xmlsig_part c14n[3] = { { r->head.s, r->head.len }, { body, bodylen },
						     { tail, strlen(tail) } };
		if (xmlsig_sign_c14n(r->signer, c14n, 3, &sig, &siglen) < 0)
			goto out;
	}
	*outlen = strlen(DECL) + r->head.len + bodylen + siglen + strlen(tail) + 1;
	*out = xmalloc(*outlen + 1);
	snprintf(*out, *outlen + 1, "%s%s%.*s%s%s\n", DECL, r->head.s, (int)bodylen, body, sig, tail);
	ret = 0;
out:
	free(sig);
	free(tail);
	return ret;
}

int one_packet(struct run *r)
{
	char packet_id[37], created[32], lim[24], bid[24], hex[65], nrec[24], nbytes[24], after[24];
	unsigned char sha[SHA256_DIGEST_LENGTH];
	xmlTextWriterPtr w = NULL;
	PGresult *res = NULL;
	char *signedbuf = NULL;
	struct atomic_bg bg = { 0 };
	size_t signedlen = 0;
	int written = 0, ret = -1, got = 0;
	long long records = 0, want, refused = 0, stale = 0;
	size_t bad0 = r->bad_ids.len, reasons0 = r->bad_reasons.len; /* undone on failure */
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
	sb_reset(&r->stale_ids);
	sb_reset(&r->done_ids);

	r->last_id = r->after_id;
	if (db_begin(r->c) < 0)
		goto out;
	{
		const char *p[1] = { packet_id };
		if (db_exec_prepared(r->c, "SELECT pg_advisory_xact_lock(3, hashtext($1))", 1, p) < 0)
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

	/* the text writer writes the records only; sign_packet() frames them */
	xmlBufferEmpty(r->xbuf);
	w = xmlNewTextWriterMemory(r->xbuf, 0);
	if (!w) {
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
			char why[256];
			int before = xmlBufferLength(r->xbuf), wr;
			long long cid = atoll(val(res, i, C_ID));

			if (PQgetisnull(res, i, C_ACCOUNT)) {
				/* not pending any more: off the queue */
				arr_item(&r->done_ids, val(res, i, C_TID), 1);
				r->last_id = cid;
				continue;
			}
			if (!strcmp(PQgetvalue(res, i, C_STALE), "t")) {
				arr_item(&r->done_ids, val(res, i, C_TID), 1);
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
				/* recorded by flush_refusals(): it stays queued until then */
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
			arr_item(&r->done_ids, val(res, i, C_TID), 1);
			arr_item(&r->sent_ids, val(res, i, C_ID), 0);
			arr_item(&r->sent_versions, val(res, i, C_VERSION), 0);
			records++;
			r->last_id = cid;
		}
		PQclear(res);
		res = NULL;
		/* the claim has LIMIT want: no need to ask for the empty rest */
		if (rows < FETCH_ROWS || got >= want)
			break;
	}
	/* the cursor closes with the transaction */
	if (!got) {
		db_rollback(r->c);
		ret = 0;
		goto out;
	}
	r->claimed += records + refused + stale;

	if (records) {
		xmlFreeTextWriter(w); /* flushed after every record */
		w = NULL;
		if (sign_packet(r, packet_id, created, records, &signedbuf, &signedlen) < 0)
			goto fail;
		if ((long long)signedlen > r->max_bytes) {
			error("signed packet is %zu bytes, over [%s] max_bytes %lld", signedlen,
			      r->ag->name, r->max_bytes);
			goto fail;
		}
		SHA256((const unsigned char *)signedbuf, signedlen, sha);
		for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
			snprintf(hex + 2 * i, 3, "%02x", sha[i]);
		/* the file goes to disk (write, fsync, rename, fsync) while the
		 * packet is recorded; the commit waits for it below */
		written = 1;
		if (atomic_write_start(&bg, path, signedbuf, signedlen, 0600) < 0)
			goto fail;
		snprintf(nrec, sizeof nrec, "%lld", records);
		snprintf(nbytes, sizeof nbytes, "%zu", signedlen);
		{
			const char *p[8] = { packet_id, r->ag->name, bid, fname, hex, nrec, nbytes,
					     arr_done(&r->sent_ids) };
			if (db_exec_prepared(r->c,
				    "INSERT INTO packets (id, direction, agency, batch_id, file_name,"
				    " sha256, records, bytes, status, check_ids)"
				    " VALUES ($1, 'request', $2, $3, $4, $5, $6, $7, 'written', $8::bigint[])",
				    8, p) < 0)
				goto fail;
		}
		/* the window in which a check may change under the packet */
		fault_point("export.before_mark");
		{
			/* sent_ids was closed for the packet row above */
			const char *p[3] = { packet_id, r->sent_ids.s, arr_done(&r->sent_versions) };
			PGresult *m = db_query_prepared(r->c,
				"WITH u AS (UPDATE checks c SET state = 'sent', packet_id = $1,"
				" attempts = c.attempts + 1, sent_at = now(),"
				" data_version = v.dv, result = NULL, reason = NULL"
				" FROM unnest($2::bigint[], $3::int[]) AS v (id, dv)"
				" WHERE c.id = v.id AND c.state = 'pending' RETURNING 1)"
				" SELECT count(*) FROM u",
				3, p);
			int moved = m && atoll(PQgetvalue(m, 0, 0)) != records;

			if (!m)
				goto fail;
			PQclear(m);
			if (moved) {
				log_event(LOG_LVL_WARN, "export.claim_lost",
					  "agency=%s packet=%s: checks changed while the packet was"
					  " written; dropped, they are taken again",
					  r->ag->name, packet_id);
				goto fail_retry;
			}
		}
	}
	if (stale) {
		const char *p[1] = { arr_done(&r->stale_ids) };
		if (db_exec(r->c,
			    "UPDATE checks SET state = 'superseded', reason = 'newer data is being checked'"
			    " WHERE id = ANY ($1::bigint[]) AND state = 'pending'",
			    1, p) < 0)
			goto fail;
	}
	{
		/* Everything this packet took or dropped leaves the queue, found
		 * by where the claim read it (half the cost of the key): those rows
		 * cannot have moved, as only export deletes queue rows and this run
		 * holds the agency lock, or with --parallel the rows' locks. */
		const char *p[2] = { r->ag->name, arr_done(&r->done_ids) };
		if (db_exec_prepared(r->c,
				     "DELETE FROM check_queue WHERE agency = $1 AND ctid = ANY ($2::tid[])",
				     2, p) < 0)
			goto fail;
	}
	r->b.records += records;
	if (batch_update_counts(r->c, &r->b) < 0)
		goto fail;
	if (atomic_write_wait(&bg) < 0)
		goto fail;
	if (written)
		fault_point("export.after_write");
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
		log_event(LOG_LVL_INFO, "export.packet", "agency=%s packet=%s records=%lld bytes=%zu",
			  r->ag->name, packet_id, records, signedlen);
	}
	r->nbad += refused;
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
	sb_cut(&r->bad_ids, bad0);
	sb_cut(&r->bad_reasons, reasons0);
	atomic_write_wait(&bg);
	db_rollback(r->c);
	if (written && unlink(path) == 0)
		fsync_dir(r->outdir);
out:
	atomic_write_wait(&bg); /* never free what the writer still reads */
	PQclear(res);
	if (w)
		xmlFreeTextWriter(w);
	free(signedbuf);
	free(path);
	free(fname);
	return ret;
}

int flush_refusals(struct run *r)
{
	PGresult *res = NULL;
	long long n;
	char bid[24];

	if (!r->nbad)
		return 0;
	snprintf(bid, sizeof bid, "%lld", r->b.id);
	if (db_begin(r->c) < 0)
		return -1;
	{
		/* only checks still pending: a --parallel run may have been first */
		const char *p[4] = { arr_done(&r->bad_ids), arr_done(&r->bad_reasons), bid,
				     r->ag->name };
		res = db_query(r->c,
			       "WITH f AS (UPDATE checks c SET state = 'failed', result = 'local_invalid',"
			       "   reason = v.reason, answered_at = now()"
			       "   FROM unnest($1::bigint[], $2::text[]) AS v (id, reason)"
			       "   WHERE c.id = v.id AND c.state = 'pending' RETURNING c.id, c.account_id, v.reason),"
			       " a AS (UPDATE accounts SET data_status = 'rejected',"
			       "   data_reject_reason = f.reason, updated_at = now()"
			       "   FROM f WHERE accounts.id = f.account_id"
			       "   RETURNING accounts.id, accounts.email, accounts.phone),"
			       " q AS (DELETE FROM check_queue WHERE agency = $4 AND check_id = ANY ($1::bigint[]))"
			       /* the addresses as the update read them; each event is
				* new (a check leaves pending once), see schema 012 */
			       " SELECT (SELECT count(*) FROM f), enqueue_notices('check_failed',"
			       "   array_agg(f.account_id), array_agg('check_failed:' || f.id),"
			       "   array_agg(jsonb_build_object('agency', $4::text, 'reason', f.reason)), $3::bigint,"
			       "   array_agg(a.email), array_agg(a.phone))"
			       " FROM f JOIN a ON a.id = f.account_id",
			       4, p);
	}
	if (!res)
		goto fail;
	n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	r->b.rejected += n;
	if (batch_update_counts(r->c, &r->b) < 0)
		goto undo;
	fault_point("export.refusals_before_commit");
	if (db_commit(r->c) < 0) {
		r->b.rejected -= n;
		return -1;
	}
	r->refused += n;
	sb_reset(&r->bad_ids);
	sb_reset(&r->bad_reasons);
	r->nbad = 0;
	return 0;
undo:
	r->b.rejected -= n;
fail:
	db_rollback(r->c);
	return -1;
}
