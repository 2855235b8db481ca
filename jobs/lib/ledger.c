#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "db.h"
#include "json.h"
#include "err.h"
#include "fault.h"
#include "ledger.h"
#include "log.h"

int batch_reap(PGconn *c)
{
	/* pg_try_advisory_lock succeeds only where no live session holds the
	 * batch's lock; we unlock right away, the row is marked in the same
	 * statement. The UPDATE tests the status again: a batch that finished
	 * (and let go of its lock) after this statement's snapshot was taken is
	 * read as committed there, and must stay as it finished. */
	PGresult *r = db_query(c,
		"WITH dead AS ("
		"  SELECT id FROM batches WHERE status = 'running'"
		"   AND CASE WHEN status = 'running' THEN pg_try_advisory_lock(id) END"
		"), unlocked AS ("
		"  SELECT id, pg_advisory_unlock(id) FROM dead"
		") UPDATE batches b SET status = 'abandoned', finished_at = now(),"
		"  error = 'process died while running (host ' || coalesce(b.host, '?') ||"
		"          ', pid ' || coalesce(b.pid::text, '?') || ')'"
		"  FROM unlocked u WHERE b.id = u.id AND b.status = 'running' RETURNING b.id, b.job",
		0, NULL);
	int n;

	if (!r)
		return -1;
	n = PQntuples(r);
	for (int i = 0; i < n; i++)
		log_event(LOG_LVL_WARN, "batch.abandoned", "abandoned=%s job=%s",
			  PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	PQclear(r);
	return n;
}

int job_lock(PGconn *c, const char *job, const char *scope, int shared)
{
	char *lockkey = scope ? xasprintf("esia-batch:%s:%s", job, scope) : xasprintf("esia-batch:%s", job);
	const char *p[1] = { lockkey };
	char *got = db_scalar(c, shared ? "SELECT pg_try_advisory_lock_shared(1, hashtext($1))"
					: "SELECT pg_try_advisory_lock(1, hashtext($1))", 1, p);
	PGresult *r;

	free(lockkey);
	if (!got)
		return -1;
	if (!strcmp(got, "t")) {
		free(got);
		return 0;
	}
	free(got);
	r = db_query(c, "SELECT id, host, pid, started_at FROM batches WHERE job = $1"
			" AND status = 'running' ORDER BY id DESC LIMIT 1", 1, &job);
	if (r && PQntuples(r))
		error("another %s run holds the lock (batch %s on %s, pid %s, since %s)", job,
		      PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
	else
		error("another %s run holds the lock", job);
	PQclear(r);
	return EXIT_TEMPFAIL;
}

int batch_start(PGconn *c, struct batch *b, const char *job, const char *scope,
		enum batch_lock lock, const char *params_json, long long rerun_of)
{
	char host[256] = "", pid[16], rerun[24];
	const char *p[6];
	PGresult *r;
	int st;

	memset(b, 0, sizeof(*b));
	snprintf(b->job, sizeof(b->job), "%s", job);
	b->rerun_of = rerun_of;
	gethostname(host, sizeof(host) - 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(rerun, sizeof(rerun), "%lld", rerun_of);

	db_forget_error(c); /* batch_finish reports only this batch's */
	if (lock != LOCK_SHARED_WORK && (st = job_lock(c, job, scope, lock == LOCK_SHARED)))
		return st;
	if (batch_reap(c) < 0)
		return -1;
	p[0] = job;
	p[1] = params_json ? params_json : "{}";
	p[2] = host;
	p[3] = pid;
	p[4] = rerun_of ? rerun : NULL;
	p[5] = scope ? scope : "";
	r = db_query(c,
		"INSERT INTO batches (job, params, status, host, pid, rerun_of, scope)"
		" VALUES ($1, $2::jsonb, 'running', $3, $4::int, $5::bigint, $6)"
		" RETURNING id, pg_advisory_lock(id)", 6, p);
	if (!r)
		return -1;
	sscanf(PQgetvalue(r, 0, 0), "%lld", &b->id);
	PQclear(r);
	log_set_batch(b->id);
	log_event(LOG_LVL_INFO, "batch.start", "job=%s%s%s", job, scope ? " scope=" : "",
		  scope ? scope : "");
	return 0;
}

int batch_update_counts(PGconn *c, const struct batch *b)
{
	char id[24], rec[24], rej[24];
	const char *p[3] = { id, rec, rej };

	snprintf(id, sizeof(id), "%lld", b->id);
	snprintf(rec, sizeof(rec), "%lld", b->records);
	snprintf(rej, sizeof(rej), "%lld", b->rejected);
	return db_exec_prepared(c, "UPDATE batches SET records = $2, rejected = $3 WHERE id = $1", 3,
				p);
}

int batch_add_counts(PGconn *c, const struct batch *b, long long records, long long rejected)
{
	char id[24], rec[24], rej[24];
	const char *p[3] = { id, rec, rej };

	snprintf(id, sizeof(id), "%lld", b->id);
	snprintf(rec, sizeof(rec), "%lld", records);
	snprintf(rej, sizeof(rej), "%lld", rejected);
	return db_exec_prepared(c,
				"UPDATE batches SET records = records + $2, rejected = rejected + $3"
				" WHERE id = $1",
				3, p);
}

int batch_reload_counts(PGconn *c, struct batch *b)
{
	char id[24];
	const char *p[1] = { id };
	PGresult *res;

	snprintf(id, sizeof(id), "%lld", b->id);
	res = db_query(c, "SELECT records, rejected FROM batches WHERE id = $1", 1, p);
	if (!res)
		return -1;
	if (PQntuples(res)) {
		b->records = atoll(PQgetvalue(res, 0, 0));
		b->rejected = atoll(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return 0;
}

#define RAN_UPSERT " ON CONFLICT (job, scope) DO UPDATE SET last_run_at = excluded.last_run_at"

int ledger_job_ran(PGconn *c, const char *job, const char *scope)
{
	const char *p[2] = { job, scope ? scope : "" };

	if (db_exec(c, "INSERT INTO job_runs (job, scope, last_run_at) VALUES ($1, $2, now())"
		       RAN_UPSERT, 2, p))
		return -1;
	return ledger_write_metrics(c);
}

int ledger_nothing_to_do(PGconn *c, const char *job, const char *scope, enum batch_lock lock,
			 const char *params_json, long long rerun_of)
{
	struct batch b;
	int st;

	if (!rerun_of)
		return ledger_job_ran(c, job, scope);
	st = batch_start(c, &b, job, scope, lock, params_json, rerun_of);
	if (st)
		return st;
	return batch_finish(c, &b, "succeeded", NULL);
}

int batch_finish(PGconn *c, struct batch *b, const char *status, const char *err)
{
	char id[24], rec[24], rej[24], *why = NULL;
	const char *p[5] = { id, status, err, rec, rej };
	int ret;

	if (!b->id)
		return 0;
	/* a run that did not succeed says which database object refused it
	 * (names only: the message and its DETAIL may quote personal data) */
	if (err && strcmp(status, "succeeded") && *db_last_error(c))
		why = xasprintf("%s (%s)", err, db_last_error(c));
	else if (err)
		why = xstrdup(err);
	/* err may quote a server, cut to fit: a byte that is no UTF-8 would
	 * make PostgreSQL refuse the statement, and the batch's end be lost */
	p[2] = why ? clean_text(why) : NULL;
	snprintf(id, sizeof(id), "%lld", b->id);
	snprintf(rec, sizeof(rec), "%lld", b->records);
	snprintf(rej, sizeof(rej), "%lld", b->rejected);
	db_rollback(c); /* a failed job may leave a transaction open */
	ret = db_exec(c,
		"UPDATE batches SET status = $2, error = $3, records = $4, rejected = $5,"
		" finished_at = now() WHERE id = $1", 5, p);
	log_event(strcmp(status, "succeeded") ? LOG_LVL_WARN : LOG_LVL_INFO, "batch.finish",
		  "status=%s records=%lld rejected=%lld", status, b->records, b->rejected);
	if (!ret)
		ret = db_exec(c, "INSERT INTO job_runs (job, scope, last_run_at)"
				 " SELECT job, scope, now() FROM batches WHERE id = $1" RAN_UPSERT, 1, p);
	if (!ret)
		ret = ledger_write_metrics(c);
	/* Session locks go with the connection; release them now for callers
	 * that keep the connection open. */
	PQclear(PQexec(c, "SELECT pg_advisory_unlock_all()"));
	log_set_batch(0);
	free(why);
	return ret;
}

char *batch_params_argv(int argc, char **argv, int parallel)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return xstrdup("{}");
	fputs("{\"argv\": [", f);
	for (int i = 0; i < argc; i++) {
		if (i)
			fputs(", ", f);
		json_print_str(f, argv[i]);
	}
	fputs(parallel ? "], \"parallel\": true}" : "]}", f);
	fclose(f);
	return buf;
}

static char *metrics_file;

void ledger_set_metrics_file(const char *path)
{
	free(metrics_file);
	metrics_file = path && *path ? xstrdup(path) : NULL;
}

/* The metrics are derived from the ledger as a whole, so concurrent jobs
 * writing the same file can never leave it inconsistent. They take turns
 * (an advisory lock from before the read until after the rename): the last
 * to rename read last, so the file is never left with the older picture. */
int ledger_write_metrics(PGconn *c)
{
	static const char *const fam[][3] = {
		{ "esia_batch_last_success_timestamp_seconds", "gauge", "end of the last successful run" },
		{ "esia_batch_last_failure_timestamp_seconds", "gauge", "end of the last failed, partial or abandoned run" },
		{ "esia_batch_last_records", "gauge", "records processed by the last finished run" },
		{ "esia_batch_last_rejected", "gauge", "inputs rejected by the last finished run" },
		{ "esia_batch_last_duration_seconds", "gauge", "duration of the last finished run" },
		{ "esia_batch_records_total", "counter", "records processed by all runs" },
		{ "esia_batch_rejected_total", "counter", "inputs rejected by all runs" },
		{ "esia_batch_failures_total", "counter", "failed, partial or abandoned runs" },
	};
	static const char last_run[] = "esia_batch_last_run_timestamp_seconds";
	struct atomic_file af;
	PGresult *r = NULL, *runs = NULL;
	char q[4096 * 4 + 8];
	int ret = -1;

	if (!metrics_file)
		return 0;
	if (db_exec(c, "SELECT pg_advisory_lock(2, hashtext('esia-batch:metrics'))", 0, NULL))
		return -1;
	runs = db_query(c, "SELECT job, scope, extract(epoch FROM last_run_at)::bigint FROM job_runs"
			   " ORDER BY 1, 2", 0, NULL);
	if (!runs)
		goto out;
	r = db_query(c,
		"WITH fin AS (SELECT * FROM batches WHERE status <> 'running'),"
		" last AS (SELECT DISTINCT ON (job, scope) job, scope, records, rejected,"
		"   extract(epoch FROM finished_at - started_at) AS took"
		"   FROM fin ORDER BY job, scope, id DESC)"
		" SELECT f.job, f.scope,"
		"  coalesce(extract(epoch FROM max(finished_at) FILTER (WHERE status = 'succeeded'))::bigint, 0),"
		"  coalesce(extract(epoch FROM max(finished_at) FILTER (WHERE status <> 'succeeded'))::bigint, 0),"
		"  l.records, l.rejected, round(l.took::numeric, 3),"
		"  sum(f.records), sum(f.rejected), count(*) FILTER (WHERE status <> 'succeeded')"
		" FROM fin f JOIN last l USING (job, scope) GROUP BY f.job, f.scope, l.records,"
		" l.rejected, l.took ORDER BY 1, 2", 0, NULL);
	if (!r)
		goto out;
	fault_point("metrics.read");
	/* From here on only the file can fail. It is a view of the ledger,
	 * which holds the run: a run is not failed for it (whether it had work
	 * or not), the next run rewrites it, and the warning says why. */
	ret = 0;
	if (mkdir_p_parent(metrics_file) || atomic_open(&af, metrics_file, 0644)) {
		log_event(LOG_LVL_WARN, "metrics.unwritten", "file=%s",
			  log_quote(metrics_file, q, sizeof(q)));
		goto out;
	}
	for (size_t k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		fprintf(af.fp, "# HELP %s %s\n# TYPE %s %s\n", fam[k][0], fam[k][2], fam[k][0],
			fam[k][1]);
		for (int i = 0; i < PQntuples(r); i++)
			fprintf(af.fp, "%s{job=\"%s\",scope=\"%s\"} %s\n", fam[k][0],
				PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2 + k));
	}
	fprintf(af.fp, "# HELP %s end of the last run, with or without work\n# TYPE %s gauge\n",
		last_run, last_run);
	for (int i = 0; i < PQntuples(runs); i++)
		fprintf(af.fp, "%s{job=\"%s\",scope=\"%s\"} %s\n", last_run, PQgetvalue(runs, i, 0),
			PQgetvalue(runs, i, 1), PQgetvalue(runs, i, 2));
	if (atomic_commit(&af))
		log_event(LOG_LVL_WARN, "metrics.unwritten", "file=%s",
			  log_quote(metrics_file, q, sizeof(q)));
out:
	PQclear(PQexec(c, "SELECT pg_advisory_unlock(2, hashtext('esia-batch:metrics'))"));
	PQclear(runs);
	PQclear(r);
	return ret;
}
