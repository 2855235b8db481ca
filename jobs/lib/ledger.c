#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "json.h"
#include "err.h"
#include "ledger.h"
#include "log.h"

int batch_reap(PGconn *c)
{
	/* pg_try_advisory_lock succeeds only where no live session holds the
	 * batch's lock; we unlock right away, the row is marked in the same
	 * statement. */
	PGresult *r = db_query(c,
		"WITH dead AS ("
		"  SELECT id FROM batches WHERE status = 'running'"
		"   AND CASE WHEN status = 'running' THEN pg_try_advisory_lock(id) END"
		"), unlocked AS ("
		"  SELECT id, pg_advisory_unlock(id) FROM dead"
		") UPDATE batches b SET status = 'abandoned', finished_at = now(),"
		"  error = 'process died while running (host ' || coalesce(b.host, '?') ||"
		"          ', pid ' || coalesce(b.pid::text, '?') || ')'"
		"  FROM unlocked u WHERE b.id = u.id RETURNING b.id, b.job",
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

int batch_start(PGconn *c, struct batch *b, const char *job, const char *scope,
		enum batch_lock lock, const char *params_json, long long rerun_of)
{
	char host[256] = "", pid[16], rerun[24], *lockkey;
	const char *p[6];
	PGresult *r;

	memset(b, 0, sizeof(*b));
	snprintf(b->job, sizeof(b->job), "%s", job);
	b->rerun_of = rerun_of;
	gethostname(host, sizeof(host) - 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(rerun, sizeof(rerun), "%lld", rerun_of);

	if (lock == LOCK_EXCLUSIVE) {
		char *got;

		lockkey = scope ? xasprintf("esia-batch:%s:%s", job, scope)
				: xasprintf("esia-batch:%s", job);
		p[0] = lockkey;
		got = db_scalar(c, "SELECT pg_try_advisory_lock(1, hashtext($1))", 1, p);
		free(lockkey);
		if (!got)
			return -1;
		if (strcmp(got, "t")) {
			free(got);
			r = db_query(c,
				"SELECT id, host, pid, started_at FROM batches WHERE job = $1"
				" AND status = 'running' ORDER BY id DESC LIMIT 1", 1, &job);
			if (r && PQntuples(r))
				error("another %s run holds the lock (batch %s on %s, pid %s, since %s)",
				      job, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
				      PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
			else
				error("another %s run holds the lock", job);
			PQclear(r);
			return EXIT_TEMPFAIL;
		}
		free(got);
	}
	if (batch_reap(c) < 0)
		return -1;
	p[0] = job;
	p[1] = params_json ? params_json : "{}";
	p[2] = host;
	p[3] = pid;
	p[4] = rerun_of ? rerun : NULL;
	r = db_query(c,
		"INSERT INTO batches (job, params, status, host, pid, rerun_of)"
		" VALUES ($1, $2::jsonb, 'running', $3, $4::int, $5::bigint)"
		" RETURNING id, pg_advisory_lock(id)", 5, p);
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
	return db_exec(c, "UPDATE batches SET records = $2, rejected = $3 WHERE id = $1", 3, p);
}

int batch_finish(PGconn *c, struct batch *b, const char *status, const char *err)
{
	char id[24], rec[24], rej[24];
	const char *p[5] = { id, status, err, rec, rej };
	int ret;

	if (!b->id)
		return 0;
	snprintf(id, sizeof(id), "%lld", b->id);
	snprintf(rec, sizeof(rec), "%lld", b->records);
	snprintf(rej, sizeof(rej), "%lld", b->rejected);
	db_rollback(c); /* a failed job may leave a transaction open */
	ret = db_exec(c,
		"UPDATE batches SET status = $2, error = $3, records = $4, rejected = $5,"
		" finished_at = now() WHERE id = $1", 5, p);
	log_event(strcmp(status, "succeeded") ? LOG_LVL_WARN : LOG_LVL_INFO, "batch.finish",
		  "status=%s records=%lld rejected=%lld", status, b->records, b->rejected);
	/* Session locks go with the connection; release them now for callers
	 * that keep the connection open. */
	PQclear(PQexec(c, "SELECT pg_advisory_unlock_all()"));
	log_set_batch(0);
	return ret;
}

char *batch_params_argv(int argc, char **argv)
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
	fputs("]}", f);
	fclose(f);
	return buf;
}
