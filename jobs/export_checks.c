/* export-checks: pending PFR/FMS checks -> signed request packets in the
 * outbox (and, when configured, uploaded to the agency).
 *
 * Per agency, under the agency's job lock (or row claims with --parallel):
 *   sweep   remove outbox files whose PacketId has no packets row (a run that
 *           died between the file and its commit), retry unfinished uploads;
 *   timeout checks sent longer than response_timeout ago go back to pending
 *           (a re-request) or, after max_attempts, become error/timeout;
 *   packets one_packet() in export_packet.c, one transaction each: claim,
 *           validate locally, write, sign, write the file atomically, record
 *           the packet and mark its checks sent, commit;
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

#include <libxml/tree.h>

#include "atomic.h"
#include "db.h"
#include "esia-batch.h"
#include "export.h"
#include "fault.h"
#include "ledger.h"
#include "log.h"
#include "progress.h"
#include "upload.h"
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
	"  --parallel    share the work with other --parallel runs by row claims;\n"
	"                a run without it (cron's) and --parallel runs of one agency\n"
	"                keep out of each other (the second exits 75)\n"
	"\n"
	"Config: [signer] key, cert; [AGENCY] max_records, max_bytes,\n"
	"response_timeout, max_attempts, recipient, upload_url, client_cert,\n"
	"client_key, ca_bundle, ssh_known_hosts (sftp:// upload_url).\n"
	"\n"
	"Exit: 0 done or nothing to do, 1 failed, 2 usage, 65 some checks refused\n"
	"locally (the rest were sent), 75 another run holds the lock, the database\n"
	"is down, or an upload failed (the packet stays in the outbox, retried\n"
	"next run).\n";

const struct agency export_agencies[N_AGENCIES] = {
	{ "pfr", "http://kvs.pfr.com/snils-validation/1.0.1", "SnilsValidationRequest",
	  "pfr-request.xsd", "PFR" },
	{ "fms", "http://fms.gov.ru/passport-validity/1.0.0", "PassportValidityRequest",
	  "fms-request.xsd", "FMS" },
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
	char tmo[24], maxa[24], id[24], *pks;
	const char *p[5] = { r->ag->name, tmo, maxa, id, NULL };
	PGresult *res;

	snprintf(tmo, sizeof tmo, "%lld", cfg_dur(r->cfg, r->ag->name, "response_timeout"));
	snprintf(maxa, sizeof maxa, "%lld", cfg_int(r->cfg, r->ag->name, "max_attempts"));
	snprintf(id, sizeof id, "%lld", r->b.id);
	if (db_begin(r->c) < 0)
		return -1;
	/* The request packets first, as import-responses locks them (packet,
	 * then its checks), and skipping those it holds: a late answer being
	 * applied is left to it. Locking the checks first deadlocked with it,
	 * each waiting on the other's rows. From here on nothing waits: the
	 * checks are locked SKIP LOCKED, and only these packets are updated. */
	pks = db_scalar(r->c,
		"SELECT coalesce(array_agg(id), '{}') FROM (SELECT p.id FROM packets p"
		" WHERE p.direction = 'request' AND p.agency = $1"
		" AND p.status IN ('written', 'uploaded')"
		" AND p.created_at < now() - make_interval(secs => $2::bigint)"
		" ORDER BY p.id FOR NO KEY UPDATE SKIP LOCKED) AS x",
		2, p);
	if (!pks)
		goto fail;
	p[4] = pks;
	res = db_query(r->c,
		"WITH due AS (SELECT c.id" OVERDUE_SQL " AND p.id = ANY ($5::uuid[])"
		"  FOR UPDATE OF c SKIP LOCKED),"
		" upd AS (UPDATE checks c SET"
		"   state = CASE WHEN c.attempts >= $3::int THEN 'error' ELSE 'pending' END,"
		"   result = CASE WHEN c.attempts >= $3::int THEN 'timeout' END,"
		"   reason = CASE WHEN c.attempts >= $3::int"
		"            THEN format('no answer after %s requests', c.attempts) END"
		"   FROM due WHERE c.id = due.id RETURNING c.state)"
		" SELECT count(*) FILTER (WHERE state = 'pending'),"
		"        count(*) FILTER (WHERE state = 'error'), $4::bigint FROM upd",
		5, p);
	if (!res)
		goto fail;
	r->requeued = atoll(PQgetvalue(res, 0, 0));
	r->timed_out = atoll(PQgetvalue(res, 0, 1));
	PQclear(res);
	if (r->requeued + r->timed_out > 0) {
		/* packets none of whose checks still wait on them */
		if (db_exec(r->c,
			    "UPDATE packets p SET status = 'superseded'"
			    " WHERE p.id = ANY ($1::uuid[])"
			    "   AND NOT EXISTS (SELECT 1 FROM unnest(p.check_ids) AS i (id)"
			    "                   JOIN checks x ON x.id = i.id"
			    "                   WHERE x.packet_id = p.id AND x.state = 'sent')",
			    1, p + 4) < 0)
			goto fail;
		log_event(LOG_LVL_INFO, "export.timeouts", "agency=%s requeued=%lld error=%lld",
			  r->ag->name, r->requeued, r->timed_out);
	}
	free(pks);
	return db_commit(r->c);
fail:
	free(pks);
	db_rollback(r->c);
	return -1;
}

/* ---- 4. upload ---- */

/* Upload the written packets: all of them (this_batch 0, at the start of a
 * run: what earlier runs left), or those this run wrote (this_batch 1, so a
 * packet that failed at the start is not tried twice). After a transient
 * failure (server down, 5xx after retries) the rest wait for the next run:
 * trying each would hold up the export for minutes. */
static int upload_pending(struct run *r, int this_batch)
{
	PGresult *res;
	char batch[24];
	const char *p[2] = { r->ag->name, batch };
	int i;

	if (!*cfg_str(r->cfg, r->ag->name, "upload_url"))
		return 0;
	snprintf(batch, sizeof batch, "%lld", this_batch ? r->b.id : 0LL);
	res = db_query(r->c,
		       "SELECT id, file_name FROM packets WHERE direction = 'request'"
		       " AND agency = $1 AND status = 'written' AND ($2::bigint = 0 OR batch_id = $2::bigint)"
		       " ORDER BY created_at, id",
		       2, p);
	if (!res)
		return -1;
	for (i = 0; i < PQntuples(res) && !r->upload_down; i++) {
		const char *q[1] = { PQgetvalue(res, i, 0) };
		const char *name = PQgetvalue(res, i, 1);
		char *path = xasprintf("%s/%s", r->outdir, name), why[256], qw[320], *mine;
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
			log_event(LOG_LVL_WARN, "export.upload_failed", "agency=%s packet=%s error=%s",
				  r->ag->name, q[0], log_quote(why, qw, sizeof qw));
			r->upload_down = u == UPLOAD_TRANSIENT;
		}
		free(path);
	}
	r->upload_waiting += PQntuples(res) - i;
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
		      "SELECT EXISTS (SELECT 1 FROM check_queue WHERE agency = $1)"
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
	/* alone, the claim locks no rows (see export_packet.c): a plain run and
	 * --parallel runs of one agency must not overlap */
	enum batch_lock lock = ctx->parallel ? LOCK_SHARED : LOCK_EXCLUSIVE;
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
	params = batch_params_argv(argc, argv, ctx->parallel);
	if (!work) {
		if (ctx->verbosity >= 0)
			printf("export-checks %s: nothing to do\n", ag->name);
		st = ledger_nothing_to_do(c, "export-checks", ag->name, lock, params, ctx->rerun_of);
		ret = st == EXIT_TEMPFAIL ? EXIT_TEMPFAIL : st ? EXIT_FAILED : EXIT_DONE;
		goto out;
	}

	r.signer = get_signer(ls, r.cfg);
	if (!r.signer)
		goto out;
	r.sig_bytes = packet_frame_bytes(&r);
	st = batch_start(c, &r.b, "export-checks", ag->name, lock, params, ctx->rerun_of);
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

	if (sweep_orphans(&r) < 0 || upload_pending(&r, 0) < 0 || handle_timeouts(&r) < 0) {
		snprintf(errmsg, sizeof errmsg, "preparing the run failed");
		goto finish;
	}
	progress_start(&pr, ag->name, 0);
	for (int again = 1;;) {
		long long before = r.sent + r.refused;
		int k = one_packet(&r);
		/* refusals go in batches of their own; all of them before the
		 * second pass, which would read them again */
		if (k >= 0 && (k == 0 || r.nbad >= r.max_records) && flush_refusals(&r) < 0) {
			progress_end(&pr);
			snprintf(errmsg, sizeof errmsg, "recording refused checks failed");
			goto finish;
		}
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
	if (upload_pending(&r, 1) < 0) {
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
		if (r.upload_waiting)
			printf(" (%lld more left for the next run)", r.upload_waiting);
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
	free(r.done_ids.s);
	free(r.head.s);
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
		return ctx->connect_exit;
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
	return export_agency(a->ctx, &export_agencies[k], a->limit, a->limit_s, a->argv);
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
			if (!strcmp(only, export_agencies[k].name))
				return export_agency(ctx, &export_agencies[k], limit, limit_s, argv);
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
				error("cannot start the %s export; running it here", export_agencies[k].name);
				codes[k] = export_agency(ctx, &export_agencies[k], limit, limit_s, argv);
			} else if (codes[k] < 0) {
				error("the %s export died (signal %d)", export_agencies[k].name, -codes[k]);
				codes[k] = EXIT_FAILED;
			}
			ret = worse(ret, codes[k]);
		}
	}
	return ret;
}
