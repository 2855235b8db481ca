/* esia-batch status: the morning dashboard. One read-only snapshot of the
 * database (REPEATABLE READ, so the numbers agree with each other). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "esia-batch.h"
#include "json.h"
#include "ledger.h"
#include "rejected.h"

static const char help[] =
	"usage: esia-batch status [--json]\n"
	"\n"
	"Accounts per level, checks per state with the age of the oldest waiting one,\n"
	"letters and codes per state, notifications pending and dead, the last success\n"
	"and failure of every job, and a list of what needs an operator: abandoned or\n"
	"failed batches not rerun successfully (directly or by a rerun of a rerun),\n"
	"request packets waiting for upload, dead notices, rejected packets, checks in\n"
	"error, addresses that cannot be printed, blocked codes (a partial batch shows\n"
	"through what it left, not as a batch to rerun).\n"
	"Read-only; the auditor role may run it.\n"
	"\n"
	"Exit: 0, 1 failed, 2 usage, 75 database unreachable.\n";

/* The latest finished batch per job and scope among those WHERE: its own
 * time and id (overlapping runs finish out of id order). */
#define LAST_BATCH(where)                                                                       \
	"SELECT job || CASE WHEN scope <> '' THEN ' ' || scope ELSE '' END,"                     \
	" to_char(finished_at, 'YYYY-MM-DD HH24:MI:SS') || ' (batch ' || id || ')'"              \
	" FROM (SELECT DISTINCT ON (job, scope) job, scope, finished_at, id FROM batches"        \
	"  WHERE " where " ORDER BY job, scope, finished_at DESC, id DESC) x ORDER BY 1"

/* Each section: a title and a query of (key, value) rows. */
static const char *const sections[][2] = {
	{ "accounts", "SELECT level, count(*)::text FROM accounts GROUP BY 1 ORDER BY 1" },
	{ "personal data", "SELECT data_status, count(*)::text FROM accounts GROUP BY 1 ORDER BY 1" },
	{ "checks", "SELECT agency || ' ' || state, count(*)::text FROM checks GROUP BY 1 ORDER BY 1" },
	{ "oldest waiting check",
	  "SELECT agency || ' ' || state, to_char(now() - min(CASE WHEN state = 'sent' THEN sent_at"
	  " ELSE created_at END), 'DD\"d\" HH24\"h\" MI\"m\"') FROM checks"
	  " WHERE state IN ('pending', 'sent') GROUP BY agency, state ORDER BY 1" },
	{ "letters", "SELECT status, count(*)::text FROM letters GROUP BY 1 ORDER BY 1" },
	{ "activation codes", "SELECT status, count(*)::text FROM activation_codes GROUP BY 1 ORDER BY 1" },
	{ "notifications",
	  "SELECT channel || ' ' || status, count(*)::text FROM notifications GROUP BY 1 ORDER BY 1" },
	{ "last success", LAST_BATCH("status = 'succeeded'") },
	{ "last failure", LAST_BATCH("status IN ('failed', 'partial', 'abandoned')") },
	{ "needs an operator",
	  /* settled: rerun successfully, directly or down a chain of reruns */
	  "WITH RECURSIVE " LEDGER_SETTLED_CTE
	  " SELECT what, n::text FROM ("
	  " SELECT 1 AS o, 'abandoned batches (esia-batch batches --status abandoned)' AS what,"
	  "   count(*) AS n FROM batches b WHERE status = 'abandoned'"
	  "   AND NOT EXISTS (SELECT 1 FROM settled s WHERE s.id = b.id)"
	  /* partial batches are not listed as such: what they left (rejected
	   * packets, dead notices, unprintable addresses, packets waiting for
	   * upload) has its own line, and rerunning a partial print batch would
	   * reissue every letter in it */
	  " UNION ALL SELECT 2, 'failed batches not yet rerun (esia-batch batches --failed)',"
	  "   count(*) FROM batches b WHERE status = 'failed'"
	  "   AND NOT EXISTS (SELECT 1 FROM settled s WHERE s.id = b.id)"
	  " UNION ALL SELECT 3, 'request packets not uploaded for over an hour (is the agency down?)',"
	  "   count(*) FROM packets WHERE direction = 'request' AND status = 'written'"
	  "   AND created_at < now() - interval '1 hour' AND agency = ANY (string_to_array($1, ','))"
	  " UNION ALL SELECT 4, 'dead notifications', count(*) FROM notifications WHERE status = 'dead'"
	  " UNION ALL SELECT 5, 'checks in error (no answer after all attempts)', count(*) FROM checks"
	  "   WHERE state = 'error'"
	  " UNION ALL SELECT 6, 'rejected response packets (in the last 7 days)', coalesce(sum(rejected), 0)"
	  "   FROM batches WHERE job = 'import-responses' AND started_at > now() - interval '7 days'"
	  " UNION ALL SELECT 7, 'mail-route accounts with an unprintable address', count(*) FROM accounts"
	  "   WHERE address_problem IS NOT NULL AND level = 'standard'"
	  " UNION ALL SELECT 8, 'blocked activation codes', count(*) FROM activation_codes"
	  "   WHERE status = 'blocked'"
	  ") x WHERE n > 0 ORDER BY o" },
};

static int count_rejected_files(const char *dir)
{
	static const char *const agencies[] = { "pfr", "fms" };
	int n = 0;

	for (size_t i = 0; i < 2; i++) {
		char *d = xasprintf("%s/%s", dir, agencies[i]);
		DIR *dh = opendir(d);
		struct dirent *de;

		free(d);
		if (!dh)
			continue;
		while ((de = readdir(dh)))
			if (de->d_name[0] != '.' && !rejected_is_reason(de->d_name))
				n++;
		closedir(dh);
	}
	return n;
}

CMD(cmd_status)
{
	static const char *const agencies[] = { "pfr", "fms" };
	int ret = EXIT_FAILED, rej_files, n = 0;
	char *rejdir = NULL, uploads[16] = "";
	const char *p[1] = { uploads };
	PGconn *c;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	if (argc > 1)
		return usage_error("esia-batch status [--json]", "unexpected argument \"%s\"", argv[1]);
	c = ctx_connect(ctx);
	if (!c)
		return ctx->connect_exit;
	if (db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL))
		goto out;
	rejdir = cfg_spool(ctx->cfg, "rejected");
	rej_files = count_rejected_files(rejdir);
	if (ctx->json)
		putchar('{');
	/* the agencies we upload to: only their written packets are waiting */
	for (size_t i = 0; i < sizeof(agencies) / sizeof(agencies[0]); i++)
		if (*cfg_str(ctx->cfg, agencies[i], "upload_url"))
			n += snprintf(uploads + n, sizeof(uploads) - n, "%s%s", n ? "," : "", agencies[i]);
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		int last = s + 1 == sizeof(sections) / sizeof(sections[0]);
		PGresult *r = db_query(c, sections[s][1], last, last ? p : NULL);
		int rows;

		if (!r)
			goto out;
		rows = PQntuples(r);
		if (ctx->json) {
			printf("%s", s ? "," : "");
			json_print_str(stdout, sections[s][0]);
			putchar(':');
			putchar('{');
			for (int i = 0; i < rows; i++) {
				printf("%s", i ? "," : "");
				json_print_str(stdout, PQgetvalue(r, i, 0));
				putchar(':');
				json_print_str(stdout, PQgetvalue(r, i, 1));
			}
			putchar('}');
		} else {
			printf("%s%s:\n", s ? "\n" : "", sections[s][0]);
			if (!rows)
				printf("  %s\n", s + 1 == sizeof(sections) / sizeof(sections[0])
							 ? "nothing" : "none");
			for (int i = 0; i < rows; i++)
				printf("  %-58s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
		}
		PQclear(r);
	}
	if (ctx->json)
		printf(",\"rejected_files\":%d}\n", rej_files);
	else if (rej_files)
		printf("  %-58s %d\n", "packet files in rejected/ (see their .reason)", rej_files);
	db_rollback(c);
	ret = 0;
out:
	free(rejdir);
	PQfinish(c);
	return ret;
}
