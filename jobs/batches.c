/* Operator views of the ledger: `batches` lists, `batch show ID` details.
 * Read-only; the auditor role can run them. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "esia-batch.h"
#include "json.h"
#include "log.h"

static const char list_usage[] =
	"esia-batch batches [--job JOB] [--status STATUS] [--failed] [--limit N] [--json]";

static const char list_help[] =
	"usage: esia-batch batches [--job JOB] [--status STATUS] [--failed] [--limit N] [--json]\n"
	"\n"
	"List batches, newest first. --failed shows those needing an operator\n"
	"(failed, partial, abandoned). STATUS: running, succeeded, failed, partial, abandoned.\n"
	"Default limit 50.\n"
	"\n"
	"Exit: 0, 1 failed, 2 usage, 75 database unreachable.\n";

static const char show_help[] =
	"usage: esia-batch batch show ID [--json]\n"
	"\n"
	"One batch in detail: job, parameters, host/pid, times, counts, outcome and\n"
	"error, the rerun chain, and the packets, letters and notices it produced.\n"
	"\n"
	"Exit: 0, 1 not found or failed, 2 usage, 75 database unreachable.\n";

/* Characters of a table cell at most: a long value (an error) is cut. */
#define CELL_MAX 60

/* Print a result as a table or as a JSON array of objects. */
static void print_result(PGresult *r, int json)
{
	int rows = PQntuples(r), cols = PQnfields(r);

	if (json) {
		putchar('[');
		for (int i = 0; i < rows; i++) {
			printf("%s{", i ? "," : "");
			for (int j = 0; j < cols; j++) {
				printf("%s\"%s\":", j ? "," : "", PQfname(r, j));
				if (PQgetisnull(r, i, j))
					fputs("null", stdout);
				else
					json_print_str(stdout, PQgetvalue(r, i, j));
			}
			putchar('}');
		}
		puts("]");
		return;
	}
	/* cells escaped as in the log (a file name or an error quoting one
	 * comes from outside: ESC, CR or a newline would forge or hide lines on
	 * the operator's terminal) and padded by characters, not bytes */
	size_t *w = xcalloc((size_t)cols, sizeof(*w));

	for (int j = 0; j < cols; j++) {
		w[j] = strlen(PQfname(r, j));
		for (int i = 0; i < rows; i++) {
			size_t n;

			free(escape_cut(PQgetvalue(r, i, j), CELL_MAX, &n));
			if (n > w[j])
				w[j] = n;
		}
	}
	for (int j = 0; j < cols; j++)
		printf("%-*s%s", (int)w[j], PQfname(r, j), j + 1 < cols ? "  " : "\n");
	for (int i = 0; i < rows; i++)
		for (int j = 0; j < cols; j++) {
			print_cell(stdout, PQgetvalue(r, i, j), CELL_MAX, w[j]);
			fputs(j + 1 < cols ? "  " : "\n", stdout);
		}
	free(w);
}

/* The ledger's statuses (schema 001); anything else would silently match no row. */
static int known_status(const char *s)
{
	static const char *const statuses[] = { "running", "succeeded", "failed", "partial",
						"abandoned" };

	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (!strcmp(s, statuses[i]))
			return 1;
	return 0;
}

CMD(cmd_batches)
{
	const char *job = NULL, *status = NULL, *limit = "50";
	int failed = 0, ret = EXIT_FAILED;
	PGconn *c;
	PGresult *r;

	if (wants_help(argc, argv)) {
		fputs(list_help, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		long long n;

		if (!strcmp(argv[i], "--failed"))
			failed = 1;
		else if (i + 1 < argc && !strcmp(argv[i], "--job"))
			job = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--status"))
			status = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--limit") && !parse_int(argv[i + 1], &n) && n > 0 &&
			 n <= INT_MAX)
			limit = argv[++i];
		else
			return usage_error(list_usage, "unknown or incomplete option \"%s\"", argv[i]);
	}
	if (status && !known_status(status))
		return usage_error(list_usage, "unknown status \"%s\" (running, succeeded, failed,"
				   " partial or abandoned)", status);
	c = ctx_connect(ctx);
	if (!c)
		return ctx->connect_exit;
	{
		const char *p[4] = { job, status, failed ? "t" : "f", limit };
		r = db_query(c,
			"SELECT id, job, status, to_char(started_at, 'YYYY-MM-DD HH24:MI:SS') AS started,"
			" coalesce(to_char(finished_at - started_at, 'HH24:MI:SS'), '') AS took,"
			" records, rejected, coalesce(rerun_of::text, '') AS rerun_of,"
			" coalesce(error, '') AS error FROM batches"
			" WHERE ($1::text IS NULL OR job = $1) AND ($2::text IS NULL OR status = $2)"
			" AND (NOT $3::bool OR status IN ('failed', 'partial', 'abandoned'))"
			" ORDER BY id DESC LIMIT $4::int", 4, p);
	}
	if (r) {
		print_result(r, ctx->json);
		PQclear(r);
		ret = 0;
	}
	PQfinish(c);
	return ret;
}

CMD(cmd_batch)
{
	static const char *const parts[][2] = {
		{ "packets", "SELECT id, direction, agency, file_name, records, status,"
			     " coalesce(reason, '') AS reason FROM packets WHERE batch_id = $1 ORDER BY created_at" },
		{ "letters", "SELECT count(*) AS letters, count(*) FILTER (WHERE status = 'revoked') AS revoked"
			     " FROM letters WHERE batch_id = $1" },
		{ "notifications", "SELECT channel, status, count(*) FROM notifications"
				   " WHERE batch_id = $1 OR sent_batch_id = $1 GROUP BY 1, 2 ORDER BY 1, 2" },
		{ "reruns", "SELECT id, status, started_at FROM batches WHERE rerun_of = $1 ORDER BY id" },
	};
	long long id;
	int ret = EXIT_FAILED;
	PGconn *c;
	PGresult *r;
	const char *p[1];

	if (wants_help(argc, argv)) {
		fputs(show_help, stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "show") || parse_int(argv[2], &id) || id <= 0)
		return usage_error("esia-batch batch show ID [--json]", "expected \"batch show ID\"");
	c = ctx_connect(ctx);
	if (!c)
		return ctx->connect_exit;
	p[0] = argv[2];
	r = db_query(c,
		"SELECT id, job, status, params::text AS params, host, pid, started_at, finished_at,"
		" records, rejected, rerun_of, error FROM batches WHERE id = $1::bigint", 1, p);
	if (!r)
		goto out;
	if (!PQntuples(r)) {
		error("no batch %s", argv[2]);
		PQclear(r);
		goto out;
	}
	if (ctx->json) {
		fputs("{\"batch\":", stdout);
		print_result(r, 1);
	} else {
		/* one line a field, escaped as in the log: params, the error
		 * and the host may quote text from outside */
		for (int j = 0; j < PQnfields(r); j++)
			print_line(stdout, "%-12s %s", PQfname(r, j), PQgetvalue(r, 0, j));
	}
	PQclear(r);
	for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++) {
		r = db_query(c, parts[k][1], 1, p);
		if (!r)
			goto out;
		if (ctx->json) {
			printf(",\"%s\":", parts[k][0]);
			print_result(r, 1);
		} else if (PQntuples(r)) {
			printf("\n%s:\n", parts[k][0]);
			print_result(r, 0);
		}
		PQclear(r);
	}
	if (ctx->json)
		puts("}");
	ret = 0;
out:
	PQfinish(c);
	return ret;
}
