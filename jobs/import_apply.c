/* import-responses: apply one believed packet in one transaction, set-based:
 * the request exists for that agency -> the response not seen before -> COPY
 * the results -> (one statement) accounts locked, checks answered, every
 * CheckId tested against the request -> stale answers superseded, failures
 * recorded, promotions, notices -> the batch counts -> COMMIT. A refusal at
 * any step rolls the whole transaction back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "fault.h"
#include "import.h"
#include "ledger.h"

/* The agency's own words in an answer of imp_results r (PFR Message, FMS
 * Reason), the one way they are read: signed, but still outside text, and
 * it reaches checks.reason, the citizen's data_reject_reason and the
 * check_failed notices. So it is one line (SQL_CLEAN: a newline, NEL or
 * U+2028 broke the e-mail's "Причина:" line and what operators read), and
 * text of only whitespace and control characters is no text (NULL). The
 * XSD's 500 characters count the text as sent; this only shortens it. */
#define MESSAGE "nullif(" SQL_CLEAN("r.message") ", '')"

/* Reasons the citizen reads (what to fix), by agency answer. */
#define REASON_SQL \
	"CASE r.status" \
	" WHEN 'mismatch' THEN 'Данные не совпадают с данными ПФР: проверьте фамилию, имя, отчество," \
	" пол и дату рождения' || coalesce(' (' || " MESSAGE " || ')', '')" \
	" WHEN 'not_found' THEN CASE c.agency WHEN 'pfr' THEN 'СНИЛС не найден в ПФР: проверьте номер СНИЛС'" \
	"  ELSE 'Паспорт не найден в ФМС: проверьте серию, номер и дату выдачи паспорта' END" \
	" WHEN 'invalid' THEN " MESSAGE " || coalesce(' (с ' || to_char(r.since, 'DD.MM.YYYY') || ')', '')" \
	"  || ': укажите данные действующего паспорта'" \
	" END"

/* One packet's results are in imp_results. Inside the caller's transaction.
 * Returns 0, 1 refused (w), -1 database error. */
static int apply(struct run *r, struct packet *pk, struct why *w)
{
	const char *p[3] = { pk->reply_to, pk->ag->name, r->batch_id };
	PGresult *res = NULL;
	char results[24];
	long long current;
	int ret = -1;

	/* One statement, one pass over the packet's rows:
	 * - l locks the accounts in id order: the other agency's answer for the
	 *   same citizen waits, so "both passed" is seen by exactly one of them,
	 *   and a data edit cannot slip between the version test and the
	 *   promotion. A locked row is its newest version, so l.data_version is
	 *   the data the account has now, not at the statement's start. l has a
	 *   row per answer whose CheckId is a check at all.
	 * - u answers the checks whose answer is to that data;
	 * - the outer query tests, from l, that every CheckId is a check of this
	 *   agency sent in this request, once. l read the checks as they were
	 *   before u; when the test fails the transaction is rolled back, u with
	 *   it. It also finds the first invalid passport without a Reason (none
	 *   sent, or none left by MESSAGE): here, not in extract(), because
	 *   MESSAGE is what says whether there is text. */
	res = db_query_prepared(r->c,
		"WITH l AS (SELECT a.id, a.data_version, a.email, a.phone, c.agency, c.packet_id, r.check_id"
		"  FROM accounts a"
		"  JOIN checks c ON c.account_id = a.id JOIN imp_results r ON r.check_id = c.id"
		"  ORDER BY a.id FOR NO KEY UPDATE OF a),"
		" u AS (UPDATE checks c SET state = CASE WHEN r.status IN ('match', 'valid')"
		"  THEN 'passed' ELSE 'failed' END, result = r.status, answered_at = now(),"
		"  reason = " REASON_SQL
		" FROM imp_results r, l WHERE c.id = r.check_id AND c.state = 'sent'"
		"  AND l.id = c.account_id AND c.data_version = l.data_version"
		" RETURNING c.id, c.account_id, c.agency, c.state, c.reason, c.data_version, l.email, l.phone),"
		" i AS (INSERT INTO imp_done SELECT * FROM u RETURNING 1)"
		/* reading every row of l also locks every account */
		" SELECT (SELECT count(*) FROM imp_results) - count(*) FILTER (WHERE l.agency = $2),"
		" count(*) FILTER (WHERE l.agency = $2 AND l.packet_id IS DISTINCT FROM $1::uuid),"
		" count(*) - count(DISTINCT l.check_id), (SELECT count(*) FROM i),"
		" (SELECT min(r.check_id) FROM imp_results r WHERE r.status = 'invalid' AND " MESSAGE " IS NULL)"
		" FROM l", 2, p);
	if (!res)
		goto out;
	if (atoll(PQgetvalue(res, 0, 0)) || atoll(PQgetvalue(res, 0, 1))) {
		int unknown = atoll(PQgetvalue(res, 0, 0)) != 0;

		if (unknown)
			ret = refuse(w, "%s record(s) not in request %s", PQgetvalue(res, 0, 0), pk->reply_to);
		else
			ret = refuse(w, "%s record(s) no longer in request %s (requested again since)",
				     PQgetvalue(res, 0, 1), pk->reply_to);
		PQclear(res);
		/* the first such CheckId, for the operator (refusals only) */
		res = unknown ?
			db_query(r->c, "SELECT min(r.check_id) FROM imp_results r LEFT JOIN checks c"
				       " ON c.id = r.check_id WHERE c.id IS NULL OR c.agency <> $1", 1, p + 1) :
			db_query(r->c, "SELECT min(r.check_id) FROM imp_results r JOIN checks c"
				       " ON c.id = r.check_id WHERE c.agency = $2"
				       " AND c.packet_id IS DISTINCT FROM $1::uuid", 2, p);
		if (!res) {
			ret = -1; /* a database error is not the packet's fault */
			goto out;
		}
		snprintf(w->detail, sizeof(w->detail), "first %s CheckId: %s", unknown ? "unknown" : "such",
			 PQgetvalue(res, 0, 0));
		goto out;
	}
	if (atoll(PQgetvalue(res, 0, 2))) {
		ret = refuse(w, "a CheckId is answered twice");
		goto out;
	}
	if (!PQgetisnull(res, 0, 4)) {
		ret = refuse(w, "result for CheckId %s is invalid without a Reason", PQgetvalue(res, 0, 4));
		goto out;
	}
	current = atoll(PQgetvalue(res, 0, 3));
	PQclear(res);
	res = NULL;

	/* stale answers: superseded, and the current data is checked afresh
	 * (none when every answer was to the current data) */
	if (current < pk->results) {
		res = db_query_prepared(r->c,
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

	/* failures: the account's data is rejected with what to fix; one notice
	 * per check, to the addresses the lock read (the newest, and nobody can
	 * change them before the commit). Not joined back to the update: with
	 * the planner's guess of a few rows that join was a nested loop, a
	 * million comparisons for a packet of 1,000 failures. */
	res = db_query_prepared(r->c,
		"WITH f AS (SELECT DISTINCT ON (account_id) account_id, reason FROM imp_done"
		"  WHERE state = 'failed' ORDER BY account_id, id),"
		" u AS (UPDATE accounts a SET data_status = 'rejected', updated_at = now(),"
		"  data_reject_reason = CASE WHEN a.data_status = 'rejected' AND a.data_reject_reason IS NOT NULL"
		"   AND strpos(a.data_reject_reason, f.reason) = 0 THEN a.data_reject_reason || '; ' || f.reason"
		"   ELSE f.reason END"
		"  FROM f WHERE a.id = f.account_id)"
		/* each event is new (a check fails once) */
		" SELECT count(*), coalesce(enqueue_notices('check_failed', array_agg(d.account_id),"
		"  array_agg('check_failed:' || d.id), array_agg(jsonb_build_object('reason', d.reason,"
		"  'agency', d.agency, 'check', d.id)), $1::bigint, array_agg(d.email), array_agg(d.phone)), 0)"
		" FROM imp_done d WHERE d.state = 'failed'", 1, p + 2);
	if (!res)
		goto out;
	r->failed += atoll(PQgetvalue(res, 0, 0));
	PQclear(res);

	/* promotions: both current checks passed */
	{
		const char *pp[2] = { r->batch_id, pk->id };

		res = db_query_prepared(r->c,
			"WITH p AS (UPDATE accounts a SET level = CASE a.level WHEN 'simplified' THEN 'standard'"
			"  ELSE a.level END, data_status = 'verified', data_reject_reason = NULL, updated_at = now()"
			/* imp_done holds this agency's answers to current data; the
			 * other agency's check for the same data must have passed too */
			" FROM imp_done d WHERE a.id = d.account_id AND d.state = 'passed'"
			"  AND EXISTS (SELECT 1 FROM checks s WHERE s.account_id = d.account_id"
			"   AND s.agency = CASE d.agency WHEN 'pfr' THEN 'fms' ELSE 'pfr' END"
			"   AND s.data_version = d.data_version AND s.state = 'passed')"
			" RETURNING a.id, a.data_version, a.level, a.email, a.phone),"
			" e AS (INSERT INTO audit_events (event, account_id, batch_id, details)"
			"  SELECT 'account.standard', p.id, $1::bigint, jsonb_build_object('data_version',"
			"  p.data_version, 'level', p.level, 'packet', $2::text) FROM p)"
			/* each event is new: a data version is promoted once, under the lock */
			" SELECT count(*), coalesce(enqueue_notices('check_passed', array_agg(p.id),"
			"  array_agg('check_passed:' || p.id || ':' || p.data_version),"
			"  array_agg(jsonb_build_object('data_version', p.data_version)), $1::bigint,"
			"  array_agg(p.email), array_agg(p.phone)), 0),"
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
		if (db_exec_prepared(r->c,
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
	return ret;
}

/* The database part of one packet. 0 applied or duplicate (*dup set),
 * 1 refused (w), -1 error (transaction rolled back). */
int import_record(struct run *r, struct packet *pk, int *dup, struct why *w)
{
	char bytes[24], count[24];
	const char *p[9] = { pk->id, pk->ag->name, r->batch_id, pk->name, pk->sha256, count, bytes,
			     pk->reply_to, NULL };
	PGresult *res = NULL;
	int ret = -1;

	*dup = 0;
	db_forget_error(r->c); /* the SQLSTATE tested below is this packet's */
	snprintf(bytes, sizeof(bytes), "%lld", pk->bytes);
	snprintf(count, sizeof(count), "%lld", pk->count);
	if (db_begin(r->c))
		goto out;
	/* the request: ours, for this agency (locked: its answers apply one at a time) */
	res = db_query_prepared(r->c,
				"SELECT agency, direction FROM packets WHERE id = $1::uuid FOR UPDATE",
				1, p + 7);
	if (!res)
		goto out;
	if (!PQntuples(res) || strcmp(PQgetvalue(res, 0, 1), "request") ||
	    strcmp(PQgetvalue(res, 0, 0), pk->ag->name)) {
		ret = refuse(w, "answers no %s request of ours: InReplyTo %s", pk->ag->org, pk->reply_to);
		goto out;
	}
	PQclear(res);
	/* the response itself, once */
	res = db_query_prepared(r->c,
		"INSERT INTO packets (id, direction, agency, batch_id, file_name, sha256, records, bytes,"
		" in_reply_to, status) VALUES ($1::uuid, 'response', $2, $3::bigint, $4, $5, $6::int,"
		" $7::bigint, $8::uuid, 'applied') ON CONFLICT (id) DO NOTHING RETURNING 1", 8, p);
	if (!res)
		goto out;
	if (!PQntuples(res)) {
		PQclear(res);
		res = db_query_prepared(r->c, "SELECT direction, sha256 FROM packets WHERE id = $1::uuid", 1, p);
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
	ret = -1; /* until the commit: a failure below must not count as applied */
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
	/* A data error (SQLSTATE class 22: a value COPY or a cast would not
	 * take) comes from the packet, which extract() should have refused: the
	 * packet is refused, not the job stopped with it still in the inbox.
	 * The log and the reason name only the SQLSTATE, never the values. */
	if (ret < 0 && !db_is_down(r->c) && !strncmp(db_last_sqlstate(r->c), "22", 2))
		ret = refuse(w, "the database refused a value in it (%s)", db_last_error(r->c));
	if (ret || *dup)
		db_rollback(r->c);
	return ret;
}
