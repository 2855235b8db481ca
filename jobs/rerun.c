/* esia-batch rerun BATCH_ID: replay a failed, partial or abandoned batch's
 * command line with ctx->rerun_of set. Each job decides what "again" means
 * for it (export: unanswered checks; import: the batch's rejected packets;
 * print: reissue; notify: the batch's dead notices); the new batch records
 * rerun_of. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "db.h"
#include "ledger.h"
#include "esia-batch.h"
#include "log.h"

static const char usage[] = "esia-batch rerun BATCH_ID [--force]";

static const char help[] =
	"usage: esia-batch rerun BATCH_ID [--force]\n"
	"\n"
	"Re-execute a failed, partial or abandoned batch with the same parameters,\n"
	"exactly once in effect:\n"
	"  export-checks     the checks still unanswered are exported again\n"
	"  import-responses  what is left in the inbox is imported, and the packets it\n"
	"                    rejected again (fix the cause first, e.g. a renewed trust anchor)\n"
	"  print-letters     its letters are reissued: old codes revoked, new letters\n"
	"                    (a batch that recorded letters needs --force: only for\n"
	"                    letters that were never posted; a reissue that died before\n"
	"                    recording is rerun as that reissue)\n"
	"  notify            its dead notices are retried\n"
	"The new batch records rerun_of. A running batch is refused; a succeeded batch,\n"
	"or one already rerun successfully (also by a rerun of its rerun), is refused\n"
	"unless --force. A rerun that finds nothing left to do is still recorded.\n"
	"\n"
	"Exit: as the job's own exit codes; 1 when refused, 2 usage, 75 lock held.\n";

CMD(cmd_rerun)
{
	const char *id = NULL, *p[1];
	int force = 0, ret = EXIT_FAILED, n = 0;
	long long bid;
	char **av = NULL;
	PGconn *c = NULL;
	PGresult *r = NULL;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--force"))
			force = 1;
		else if (!id && !parse_int(argv[i], &bid) && bid > 0)
			id = argv[i];
		else
			return usage_error(usage, "unexpected argument \"%s\"", argv[i]);
	}
	if (!id)
		return usage_error(usage, "which batch? give its id");
	c = ctx_connect(ctx);
	if (!c)
		return ctx->connect_exit;
	/* a batch whose process died is marked abandoned now, so it can be rerun
	 * without waiting for the next run of its job */
	if (batch_reap(c) < 0)
		goto out;
	p[0] = id;
	r = db_query(c,
		"WITH RECURSIVE " LEDGER_SETTLED_CTE
		" SELECT b.job, b.status, b.params -> 'argv',"
		" (SELECT max(s.by) FROM settled s WHERE s.id = b.id),"
		" jsonb_typeof(b.params -> 'argv'),"
		" coalesce(jsonb_array_length(CASE WHEN jsonb_typeof(b.params -> 'argv') = 'array'"
		"   THEN b.params -> 'argv' END), 0),"
		" (SELECT count(*) FROM letters l WHERE l.batch_id = b.id),"
		" coalesce(b.params ->> 'parallel', '') = 'true'"
		" FROM batches b WHERE b.id = $1::bigint", 1, p);
	if (!r)
		goto out;
	if (!PQntuples(r)) {
		error("no batch %s", id);
		goto out;
	}
	{
		const char *job = PQgetvalue(r, 0, 0), *status = PQgetvalue(r, 0, 1);
		const char *done_by = PQgetvalue(r, 0, 3);

		if (!strcmp(status, "running")) {
			error("batch %s (%s) is still running (its process holds the batch lock)", id, job);
			goto out;
		}
		if (!strcmp(status, "succeeded") && !force) {
			error("batch %s (%s) succeeded; nothing to redo (use --force to run it again anyway)",
			      id, job);
			goto out;
		}
		/* A print batch that recorded letters is done as far as those go
		 * (partial: an address was unprintable; abandoned: killed after its
		 * commit): a rerun revokes their codes, which is only right when the
		 * letters never left the printing house. */
		if (!strcmp(job, "print-letters") && strcmp(PQgetvalue(r, 0, 6), "0") && !force) {
			error("batch %s (print-letters, %s) recorded %s letter(s); a rerun revokes their codes"
			      " and prints new letters. Only if they were not posted: use --force",
			      id, status, PQgetvalue(r, 0, 6));
			goto out;
		}
		if (*done_by && !force) {
			error("batch %s (%s) was already rerun successfully as batch %s (use --force to run it again)",
			      id, job, done_by);
			goto out;
		}
		if (strcmp(PQgetvalue(r, 0, 4), "array") || !atoi(PQgetvalue(r, 0, 5))) {
			error("batch %s (%s) did not record its command line; run the job by hand", id, job);
			goto out;
		}
	}
	n = atoi(PQgetvalue(r, 0, 5));
	/* the global --parallel is not in argv: replayed as the batch ran */
	if (!strcmp(PQgetvalue(r, 0, 7), "t"))
		ctx->parallel = 1;
	PQclear(r);
	r = db_query(c,
		"SELECT a FROM batches b, jsonb_array_elements_text(b.params -> 'argv')"
		" WITH ORDINALITY AS t (a, i) WHERE b.id = $1::bigint ORDER BY i", 1, p);
	if (!r || PQntuples(r) != n)
		goto out;
	av = xcalloc(n + 1, sizeof(char *));
	for (int i = 0; i < n; i++)
		av[i] = xstrdup(PQgetvalue(r, i, 0));
	PQclear(r);
	r = NULL;
	PQfinish(c);
	c = NULL;
	if (!strcmp(av[0], "rerun")) {
		error("batch %s recorded a rerun command line; refusing to recurse", id);
		goto out;
	}
	log_event(LOG_LVL_INFO, "rerun.start", "rerun_of=%s job=%s", id, av[0]);
	ctx->rerun_of = bid;
	ret = run_command(n, av, ctx);
out:
	if (av)
		for (int i = 0; i < n; i++)
			free(av[i]);
	free(av);
	PQclear(r);
	PQfinish(c);
	return ret;
}
