/* The batch ledger: every job run is a row in `batches`.
 *
 * Locking: the job-level lock is a session advisory lock (class 1, key =
 * hash of job and scope), so it dies with the process and a crashed run is
 * never "stuck running". Each running batch also holds its own advisory lock
 * (the one-key form, key = batch id); a `running` row whose lock nobody holds belongs
 * to a dead process and is marked `abandoned`. */
#ifndef ESIA_LEDGER_H
#define ESIA_LEDGER_H

#include <libpq-fe.h>

struct batch {
	long long id;
	char job[64];
	long long records;  /* work done */
	long long rejected; /* input refused */
	long long rerun_of; /* 0 = not a rerun */
};

enum batch_lock { LOCK_EXCLUSIVE, LOCK_SHARED, LOCK_SHARED_WORK };

/* Start a batch of job. scope narrows the exclusive lock (e.g. "pfr"; NULL =
 * the whole job). LOCK_SHARED takes the job lock in shared mode: such runs
 * share the work by row claims, and keep out an exclusive run whose claims
 * rely on being alone (and it them). LOCK_SHARED_WORK skips the job lock for
 * jobs whose row claims keep every run apart, exclusive or not (--parallel).
 * params_json describes
 * the parameters for rerun. Returns 0, or EXIT_TEMPFAIL when another run holds
 * the lock (message printed), or -1 on error. */
int batch_start(PGconn *c, struct batch *b, const char *job, const char *scope,
		enum batch_lock lock, const char *params_json, long long rerun_of);
/* Take the job's lock (as batch_start does) without starting a batch: for
 * work that must not overlap another run but may find nothing to do (the
 * import's download and inbox listing). Session-level and counted, so
 * batch_start takes it again; released by batch_finish or the disconnect.
 * 0, EXIT_TEMPFAIL (another run holds it; message printed) or -1. */
int job_lock(PGconn *c, const char *job, const char *scope, int shared);
/* Mark batches whose process died as abandoned; returns how many. */
int batch_reap(PGconn *c);
/* Persist the counters (outside or inside the caller's transaction). */
int batch_update_counts(PGconn *c, const struct batch *b);
/* Add to the stored counters inside the caller's transaction: for a batch
 * whose work is shared by several worker processes. */
int batch_add_counts(PGconn *c, const struct batch *b, long long records, long long rejected);
/* Read the stored counters back into b (after workers added to them). */
int batch_reload_counts(PGconn *c, struct batch *b);
/* status: "succeeded", "failed", "partial"; err may be NULL, and is stored
 * as clean_text() makes it (it may quote a server). Releases locks. */
int batch_finish(PGconn *c, struct batch *b, const char *status, const char *err);

/* Where batch_finish rewrites the Prometheus textfile (NULL/"" = nowhere). */
void ledger_set_metrics_file(const char *path);
/* Rewrite the metrics file from the ledger now (also done by batch_finish). */
int ledger_write_metrics(PGconn *c);
/* A run of job (scope NULL = none) that found nothing to do ended: noted in
 * job_runs (batch_finish notes the others) and the metrics rewritten. */
int ledger_job_ran(PGconn *c, const char *job, const char *scope);
/* The same for a run that may be a rerun (rerun_of set): the operator's
 * rerun is recorded even when nothing was left to do, as a batch that
 * succeeded with no records (taking the lock as batch_start does), so the
 * ledger shows it and the batch it reran counts as rerun. 0, EXIT_TEMPFAIL
 * (lock held; message printed) or -1. */
int ledger_nothing_to_do(PGconn *c, const char *job, const char *scope, enum batch_lock lock,
			 const char *params_json, long long rerun_of);

/* The batches a rerun settled, for WITH RECURSIVE: settled (id, by) holds
 * every batch with a later succeeded batch `by` in its rerun tree, which
 * did the same work: up walks from each succeeded rerun to the batch the
 * tree started from, settled walks down from there to every batch older
 * than `by` (3 failed, 4 rerun of 3 failed, 5 rerun of 4 succeeded settles
 * 3 and 4; so does 5 as a second rerun of 3). A batch run after the success
 * (rerun --force) is not settled by it. `status` does not list a settled
 * batch; `rerun` refuses one without --force. */
#define LEDGER_SETTLED_CTE                                                              \
	"up (id, by) AS (SELECT rerun_of, id FROM batches"                              \
	" WHERE status = 'succeeded' AND rerun_of IS NOT NULL"                          \
	" UNION SELECT b.rerun_of, u.by FROM up u JOIN batches b ON b.id = u.id"        \
	" WHERE b.rerun_of IS NOT NULL),"                                               \
	" settled (id, by) AS (SELECT id, by FROM up"                                   \
	" UNION SELECT b.id, s.by FROM settled s JOIN batches b ON b.rerun_of = s.id"   \
	" WHERE b.rerun_of IS NOT NULL AND b.id < s.by)"

/* {"argv": [...]} for the params column: what `rerun` replays. argv[0] is
 * the command name; "parallel": true when the run had the global
 * --parallel, which argv no longer holds. Caller frees. */
char *batch_params_argv(int argc, char **argv, int parallel);

#endif
