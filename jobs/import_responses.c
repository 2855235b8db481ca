/* import-responses: believe an agency's answer only after every check, then
 * apply it in one transaction.
 *
 * Per packet: import_verify() (import_read.c: size, safe parse, XSD, folder's
 * agency, XML-DSig, counts) → import_record() (import_apply.c: one transaction)
 * → move to processed/. Any refusal moves the file to rejected/<agency>/ with
 * NAME.reason and leaves the database as it was (only the batch row counts it
 * and lists the file, so `rerun` can try it again). This file: the command,
 * the inbox, quarantine, rerun and the worker processes. */
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

#include "atomic.h"
#include "db.h"
#include "download.h"
#include "esia-batch.h"
#include "fault.h"
#include "ledger.h"
#include "log.h"
#include "progress.h"
#include "rejected.h"
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
	"XML-DSig signature by the agency ([AGENCY] trust_anchor and, if set,\n"
	"signer_subject; dates; covering the whole document), the request it answers\n"
	"exists for that agency, and every CheckId belongs to that request, once. Each\n"
	"packet is applied in one transaction: checks passed/failed (answers to data\n"
	"edited since the request are superseded and the check is requested again),\n"
	"accounts with both checks passed promoted to standard, failures recorded with\n"
	"the reason to fix, notices enqueued. Applied packets move to processed/AGENCY/;\n"
	"refused ones to rejected/AGENCY/ with NAME.reason, changing nothing. A packet\n"
	"imported twice is reported as a duplicate and changes nothing. Under\n"
	"`esia-batch rerun ID` the inbox (or the FILEs still there) is imported as by\n"
	"a plain run, and the packets batch ID refused are moved back from rejected/\n"
	"and imported again.\n"
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

#include "import.h"

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

/* Move path into SPOOL/AGENCY/, as to when given (a free_name() there). A
 * file another run already moved is fine. */
static int settle(struct run *r, const char *path, const char *spool, const char *agency,
		  const char *to)
{
	char *dir = agency_dir(r->cfg, spool, agency), q[LOG_QUOTE_NAME];
	int ret = 0;

	if (access(path, F_OK) && errno == ENOENT)
		log_event(LOG_LVL_INFO, "import.gone", "file=%s", log_quote(path, q, sizeof(q)));
	else
		ret = to ? move_to(path, to) : move_into(path, dir, NULL);
	free(dir);
	return ret;
}

/* ---------------------------------------------------------------- refusal */

/* Quarantine: NAME.reason beside NAME in rejected/AGENCY/, then the file; the
 * batch row counts it and lists it for rerun. Nothing else changes. The
 * .reason format is in rejected.h. The batch row keeps the reason as line 1
 * says it: w->what may echo the packet (a value quoted by the XSD's error)
 * and be cut inside a character, which PostgreSQL refuses, and with it the
 * record of the refusal. */
static int quarantine(struct run *r, const char *path, const char *agency, const struct why *w)
{
	char *dir = agency_dir(r->cfg, "rejected", agency), *target = NULL, *reason = NULL, *name;
	char *copy = xstrdup(path), *safe = rejected_name(basename(copy));
	char *what = escape_line(w->what), *file = escape_line(path);
	char *text = xasprintf("%s\nfile: %s\nbatch: %lld\n%s%s", what, file, r->b.id,
			       w->detail, *w->detail ? "\n" : "");
	const char *p[4] = { r->batch_id, agency, NULL, what };
	char q[256], qn[LOG_QUOTE_NAME];
	int ret = -1;

	if (mkdir_p(dir, 0700))
		goto out;
	/* the name it will have there: another packet of the same name stays,
	 * and so does any file where its .reason would go */
	target = free_name(dir, safe, path, ".reason");
	if (!target)
		goto out;
	reason = xasprintf("%s.reason", target);
	name = strrchr(target, '/') + 1;
	p[2] = name;
	log_event(LOG_LVL_WARN, "import.rejected", "file=%s agency=%s reason=%s",
		  log_quote(name, qn, sizeof(qn)), agency, log_quote(w->what, q, sizeof(q)));
	if (atomic_write(reason, text, strlen(text), 0600))
		goto out;
	if (settle(r, path, "rejected", agency, target))
		goto out;
	fault_point("import.after_quarantine");
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
	free(file);
	free(what);
	free(safe);
	free(copy);
	free(reason);
	free(target);
	free(dir);
	return ret;
}

/* One file: 0 applied/duplicate/refused, -1 the job must stop. */
static int import_one(struct run *r, const struct work *wk)
{
	struct packet pk = { 0 };
	struct why w = { "", "" };
	xmlDocPtr doc = NULL;
	char *copy = xstrdup(wk->path);
	char qn[LOG_QUOTE_NAME], qi[168], qr[168];
	int dup = 0, ret = -1, rc;
	long long before = r->b.records;

	pk.name = basename(copy);
	fault_point("import.packet");
	/* a control character or a byte that is no UTF-8 would break every
	 * record of the name (log and .reason lines, the database, the archive
	 * MANIFEST), a very long one the quarantine's files: refused unread */
	if (!rejected_plain_name(pk.name))
		rc = refuse(&w, "file name holds control characters, is not UTF-8 or is over %d bytes",
			    REJECTED_NAME_MAX);
	else
		rc = import_verify(r, wk, &pk, &doc, &w);
	xmlFreeDoc(doc); /* everything needed is in pk and the COPY buffer */
	if (!rc)
		rc = import_record(r, &pk, &dup, &w);
	if (rc < 0) {
		r->b.records = before;
		goto out;
	}
	if (rc > 0) {
		r->b.records = before;
		ret = quarantine(r, wk->path, pk.ag ? pk.ag->name : wk->ag ? wk->ag->name : "unknown", &w);
		goto out;
	}
	if (settle(r, wk->path, "processed", pk.ag->name, NULL))
		goto out;
	if (dup) {
		r->duplicates++;
		log_event(LOG_LVL_WARN, "import.duplicate", "file=%s agency=%s packet=%s",
			  log_quote(pk.name, qn, sizeof(qn)), pk.ag->name, log_quote(pk.id, qi, sizeof(qi)));
	} else {
		r->applied++;
		log_event(LOG_LVL_INFO, "import.applied", "file=%s agency=%s packet=%s in_reply_to=%s records=%lld",
			  log_quote(pk.name, qn, sizeof(qn)), pk.ag->name, log_quote(pk.id, qi, sizeof(qi)),
			  log_quote(pk.reply_to, qr, sizeof(qr)), pk.results);
	}
	ret = 0;
out:
	free(copy);
	return ret;
}

/* ---------------------------------------------------------------- rerun */

/* One refused packet to take back: rejected/AGENCY/NAME -> inbox/AGENCY/. */
static int take_one(struct run *r, const char *agency, const char *name, struct work **w, size_t *n)
{
	const struct agency *ag = agency_named(agency);
	char *rej, *src, *why, *inbox, *dst = NULL, q[LOG_QUOTE_NAME];
	int ret = 0;

	if (!ag || !*name || strchr(name, '/') || name[0] == '.')
		return 0; /* "unknown" agency: nothing to put it back into */
	rej = agency_dir(r->cfg, "rejected", ag->name);
	src = xasprintf("%s/%s", rej, name);
	why = xasprintf("%s.reason", src);
	inbox = agency_dir(r->cfg, "inbox", ag->name);
	if (rejected_is_reason(name) || access(src, F_OK)) {
		/* a .reason is never a packet: taking it would import the reason */
		if (rejected_is_reason(name))
			warning("\"%s\" is a reason file, not a packet; skipped", src);
		else
			warning("rejected packet \"%s\" is no longer there; skipped", src);
	} else if (move_into(src, inbox, &dst) == 0) {
		size_t i = 0;

		unlink(why);
		/* the same bytes already waiting in the inbox (listed as the
		 * rerun's work) are that file: imported once */
		while (i < *n && strcmp((*w)[i].path, dst))
			i++;
		if (i < *n) {
			free(dst);
		} else {
			*w = xrealloc(*w, (*n + 2) * sizeof(**w));
			(*w)[*n].path = dst;
			(*w)[*n].ag = ag;
			(*n)++;
		}
		log_event(LOG_LVL_INFO, "import.retry", "file=%s agency=%s", log_quote(name, q, sizeof(q)),
			  ag->name);
	} else {
		ret = -1;
	}
	free(rej), free(src), free(why), free(inbox);
	return ret;
}

struct take_ctx {
	struct run *r;
	struct work **w;
	size_t *n;
};

/* A file whose .reason names the batch but that the batch row never listed:
 * the job died between moving it and counting it. */
static int take_unlisted(const char *agency, const char *name, void *arg)
{
	struct take_ctx *x = arg;

	return take_one(x->r, agency, name, x->w, x->n);
}

/* Move the packets batch `of` refused back to the inbox; they are the work:
 * those the batch row lists, then any other whose .reason names the batch. */
static int take_back(struct run *r, long long of, struct work **w, size_t *n)
{
	char id[24];
	const char *p[1] = { id };
	struct take_ctx x = { r, w, n };
	PGresult *res;
	char *rejdir;
	int ret = 0;

	snprintf(id, sizeof(id), "%lld", of);
	res = db_query(r->c,
		"SELECT e->>'agency', e->>'file' FROM batches b,"
		" jsonb_array_elements(coalesce(b.params->'rejected', '[]')) e WHERE b.id = $1::bigint", 1, p);
	if (!res)
		return -1;
	for (int i = 0; !ret && i < PQntuples(res); i++)
		ret = take_one(r, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), w, n);
	PQclear(res);
	if (ret)
		return ret;
	rejdir = cfg_spool(r->cfg, "rejected");
	ret = rejected_of_batch(rejdir, of, take_unlisted, &x);
	free(rejdir);
	return ret;
}

/* ---------------------------------------------------------------- workers */

/* copied_at is never read. A volatile default makes COPY insert the rows one
 * by one: PostgreSQL 15's batched COPY makes a tuple slot per buffered row
 * (1,000 per packet), each registered with the resource owner and dropped
 * at the end, and that cost twice the rows' insertion (1,000 COPYs of
 * 1,000 rows, each in its own transaction: 1.9-2.8 s batched, 1.0-1.6 s one
 * by one). */
static int prepare(struct run *r)
{
	return db_script(r->c,
			 "CREATE TEMP TABLE imp_results (check_id bigint NOT NULL, status text NOT NULL,"
			 " message text, since date, copied_at timestamptz DEFAULT clock_timestamp())"
			 " ON COMMIT DELETE ROWS;"
			 "CREATE TEMP TABLE imp_done (id bigint, account_id bigint, agency text, state text,"
			 " reason text, data_version int, email text, phone text) ON COMMIT DELETE ROWS",
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
		if (codes[k] == EXIT_TEMPFAIL)
			r->workers_down = 1;
		if (codes[k] == WORKER_NOT_STARTED)
			error("import worker %d of %d could not be started; its packets wait", k + 1, n);
		else if (codes[k] < 0)
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
	if (k > 64) /* as --workers: each worker holds a database connection */
		k = 64;
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

	/* One import at a time, --parallel or not: files in the inbox are not
	 * claimed row by row, and two runs would race to download, list and move
	 * the same files. The lock comes first; the batch only once there is work. */
	r.c = ctx_connect(ctx);
	if (!r.c) {
		ret = EXIT_TEMPFAIL;
		goto out;
	}
	st = job_lock(r.c, "import-responses", NULL, 0);
	if (st) {
		ret = st == EXIT_TEMPFAIL ? EXIT_TEMPFAIL : EXIT_FAILED;
		goto out;
	}

	/* first fetch what the agencies offer (never for named FILEs or a rerun);
	 * a server that is down does not stop the import of the inbox */
	for (size_t i = 0; i < N_AGENCIES && !nfiles && !ctx->rerun_of; i++) {
		struct download_stats ds = { 0 };

		if ((only && only != &import_agencies[i]) ||
		    !*cfg_str(r.cfg, import_agencies[i].name, "download_url"))
			continue;
		st = download_agency(r.cfg, import_agencies[i].name, &ds);
		if (st == DOWNLOAD_TRANSIENT)
			dl_down = 1;
		else if (st == DOWNLOAD_REFUSED)
			dl_failed = 1;
		dl_skipped += ds.skipped;
		if (ctx->verbosity >= 0 && (ds.fetched || ds.skipped))
			printf("downloaded %lld packet%s from %s (%lld skipped)\n", ds.fetched,
			       ds.fetched == 1 ? "" : "s", import_agencies[i].org, ds.skipped);
	}
	/* the work: named files, or the inbox folders; a rerun takes them as a
	 * plain run does (a batch whose worker died left packets there), and
	 * adds what the batch refused once its own batch has started */
	if (nfiles) {
		w = xcalloc(nfiles + 1, sizeof(*w));
		for (size_t i = 0; i < nfiles; i++) {
			char *copy, *parent;

			/* a rerun's named file that is gone was applied or refused */
			if (ctx->rerun_of && access(argv[first_file + i], F_OK))
				continue;
			copy = xstrdup(argv[first_file + i]);
			parent = basename(dirname(copy));
			w[n].path = xstrdup(argv[first_file + i]);
			w[n].ag = only ? only : agency_named(parent);
			n++;
			free(copy);
		}
	} else {
		for (size_t i = 0; i < N_AGENCIES; i++) {
			char *dir;

			if (only && only != &import_agencies[i])
				continue;
			dir = agency_dir(r.cfg, "inbox", import_agencies[i].name);
			st = list_inbox(dir, &import_agencies[i], &w, &n);
			free(dir);
			if (st)
				goto out;
		}
		if (!n && !ctx->rerun_of) {
			if (ctx->verbosity >= 0)
				printf("nothing to import\n");
			ret = ledger_job_ran(r.c, "import-responses", NULL) ? EXIT_FAILED : EXIT_DONE;
			goto out;
		}
	}

	for (size_t i = 0; i < N_AGENCIES; i++)
		if ((!only || only == &import_agencies[i]) && !*cfg_str(r.cfg, import_agencies[i].name, "trust_anchor")) {
			error("[%s] trust_anchor is not set: no answer from %s can be believed",
			      import_agencies[i].name, import_agencies[i].org);
			goto out;
		}
	if (xmlsig_init())
		goto out;
	inited = 1;
	params = batch_params_argv(argc, argv, ctx->parallel);
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
	ret = db_is_down(r.c) || r.workers_down ? EXIT_TEMPFAIL : EXIT_FAILED;
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
