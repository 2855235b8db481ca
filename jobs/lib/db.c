#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "err.h"

static const char *field(const PGresult *r, int code)
{
	const char *v = r ? PQresultErrorField(r, code) : NULL;

	return v ? v : "";
}

/* The objects an error names: identifiers only, never values. */
static void names(const PGresult *r, char *buf, size_t n)
{
	static const struct {
		int code;
		const char *key;
	} f[] = {
		{ PG_DIAG_CONSTRAINT_NAME, "constraint" },
		{ PG_DIAG_TABLE_NAME, "table" },
		{ PG_DIAG_COLUMN_NAME, "column" },
	};
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]) && len < n; i++)
		if (*field(r, f[i].code))
			len += snprintf(buf + len, n - len, "%s%s=%s", len ? " " : "", f[i].key,
					field(r, f[i].code));
}

/* The last server error as the ledger may keep it (batch_finish copies it into
 * batches.error, which the auditor role reads): SQLSTATE and object names. */
static struct {
	PGconn *c;
	char text[200];
	char sqlstate[6];
} last;

static void remember(PGconn *c, const PGresult *r)
{
	char objs[160];

	last.c = c;
	last.text[0] = '\0';
	snprintf(last.sqlstate, sizeof(last.sqlstate), "%s", field(r, PG_DIAG_SQLSTATE));
	if (!*field(r, PG_DIAG_SQLSTATE))
		return;
	names(r, objs, sizeof(objs));
	snprintf(last.text, sizeof(last.text), "sqlstate=%s%s%s", field(r, PG_DIAG_SQLSTATE),
		 *objs ? " " : "", objs);
}

const char *db_last_error(PGconn *c)
{
	return c && last.c == c ? last.text : "";
}

const char *db_last_sqlstate(PGconn *c)
{
	return c && last.c == c ? last.sqlstate : "";
}

void db_forget_error(PGconn *c)
{
	if (last.c == c)
		last.text[0] = last.sqlstate[0] = '\0';
}

/* PostgreSQL's DETAIL of an integrity violation quotes the row ("Failing row
 * contains (...)", every column) or the key ("Key (snils)=(...)"): personal
 * data. Those name the constraint and table instead; other DETAILs stay. A
 * data error (class 22) quotes the value in its message itself ("invalid
 * input syntax for type date: "..."") and a COPY error quotes the line in its
 * CONTEXT: the message is cut at its first quote, the CONTEXT dropped.
 * *cut: how much of the primary message may be shown. */
static int withhold(const PGresult *r, char *why, size_t n, int *cut)
{
	const char *primary = field(r, PG_DIAG_MESSAGE_PRIMARY);
	char objs[160];

	*cut = (int)strlen(primary);
	names(r, objs, sizeof(objs));
	if (!strncmp(field(r, PG_DIAG_SQLSTATE), "22", 2)) {
		*cut = (int)strcspn(primary, "\"");
		while (*cut && strchr(": ", primary[*cut - 1]))
			--*cut;
		snprintf(why, n, "sqlstate=%s%s%s (values withheld)", field(r, PG_DIAG_SQLSTATE),
			 *objs ? " " : "", objs);
		return 1;
	}
	if (!strncmp(field(r, PG_DIAG_SQLSTATE), "23", 2)) {
		snprintf(why, n, "%s%s(row values withheld)", objs, *objs ? " " : "");
		return 1;
	}
	if (!strncmp(field(r, PG_DIAG_MESSAGE_DETAIL), "Failing row contains", 20) ||
	    !strncmp(field(r, PG_DIAG_CONTEXT), "COPY ", 5)) {
		snprintf(why, n, "(row values withheld)");
		return 1;
	}
	return 0;
}

static const char *trim(char *buf)
{
	size_t n = strlen(buf);

	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

/* The message of a failed statement, result r (NULL when libpq made none). */
static const char *msg(PGconn *c, const PGresult *r)
{
	static char buf[512];
	char why[200];
	const char *text = r ? PQresultErrorMessage(r) : "";
	int cut;

	remember(c, r);
	if (withhold(r, why, sizeof(why), &cut))
		snprintf(buf, sizeof(buf), "%s:  %.*s\nDETAIL:  %s", field(r, PG_DIAG_SEVERITY), cut,
			 field(r, PG_DIAG_MESSAGE_PRIMARY), why);
	else if (*text)
		snprintf(buf, sizeof(buf), "%s", text);
	else /* no result: the connection's own message, its first line only
	      * (a server error it may still hold stays out) */
		snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(PQerrorMessage(c), "\n"),
			 PQerrorMessage(c));
	return trim(buf);
}

/* Statements a job runs for every packet are prepared on their connection
 * the first time and only executed after that: parsing, analysis and (once
 * the plan cache settles on a generic plan) planning are paid once per run,
 * not once per packet. That was about 5% of import's CPU. Keyed by connection
 * and SQL text; a full table just runs statements unprepared. */
#define PREP_MAX 64
static struct prepared {
	PGconn *c;
	char *sql;
} prep[PREP_MAX];

/* A new connection at the address of a closed one has no statements yet. */
static void prep_forget(PGconn *c)
{
	for (int i = 0; i < PREP_MAX; i++)
		if (prep[i].c == c) {
			free(prep[i].sql);
			prep[i].c = NULL;
			prep[i].sql = NULL;
		}
}

static PGresult *run(PGconn *c, const char *sql, int n, const char *const *params, int prepared)
{
	int i, free_slot = -1;
	char name[24];

	if (!prepared)
		return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	for (i = 0; i < PREP_MAX; i++) {
		if (prep[i].c == c && !strcmp(prep[i].sql, sql))
			break;
		if (!prep[i].c && free_slot < 0)
			free_slot = i;
	}
	if (i == PREP_MAX) {
		PGresult *r;

		if (free_slot < 0)
			return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
		i = free_slot;
		snprintf(name, sizeof(name), "esia_%d", i);
		r = PQprepare(c, name, sql, n, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			return r;
		PQclear(r);
		prep[i].c = c;
		prep[i].sql = xstrdup(sql);
	}
	snprintf(name, sizeof(name), "esia_%d", i);
	return PQexecPrepared(c, name, n, params, NULL, NULL, 0);
}

PGconn *db_connect(const struct config *cfg)
{
	const char *ci = cfg ? cfg_str(cfg, "database", "conninfo") : "";
	PGconn *c = PQconnectdb(ci);

	if (PQstatus(c) != CONNECTION_OK) {
		char buf[512];

		snprintf(buf, sizeof(buf), "%s", PQerrorMessage(c));
		error("cannot connect to the database: %s", trim(buf));
		PQfinish(c);
		return NULL;
	}
	prep_forget(c);
	db_forget_error(c);
	PQsetClientEncoding(c, "UTF8");
	/* Statements never wait forever on a lock held by a stuck peer. */
	PQclear(PQexec(c, "SET lock_timeout = '60s'; SET application_name = 'esia-batch'"));
	return c;
}

int db_is_down(PGconn *c)
{
	return !c || PQstatus(c) != CONNECTION_OK;
}

static const char *first_line(const char *sql, char *buf, size_t n)
{
	size_t i = 0;

	while (*sql == ' ' || *sql == '\n' || *sql == '\t')
		sql++;
	for (; sql[i] && sql[i] != '\n' && i + 1 < n && i < 60; i++)
		buf[i] = sql[i];
	buf[i] = '\0';
	return buf;
}

static int exec_(PGconn *c, const char *sql, int n, const char *const *params, int prepared)
{
	PGresult *r = run(c, sql, n, params, prepared);
	ExecStatusType st = PQresultStatus(r);
	char q[64];

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		error("query \"%s\" failed: %s", first_line(sql, q, sizeof(q)), msg(c, r));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	return 0;
}

int db_exec(PGconn *c, const char *sql, int n, const char *const *params)
{
	return exec_(c, sql, n, params, 0);
}

int db_exec_prepared(PGconn *c, const char *sql, int n, const char *const *params)
{
	return exec_(c, sql, n, params, 1);
}

int db_script(PGconn *c, const char *sql, const char *what)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int ret = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		ret = error("%s failed: %s", what, msg(c, r));
	PQclear(r);
	return ret;
}

static PGresult *query_(PGconn *c, const char *sql, int n, const char *const *params, int prepared)
{
	PGresult *r = run(c, sql, n, params, prepared);
	char q[64];

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		error("query \"%s\" failed: %s", first_line(sql, q, sizeof(q)), msg(c, r));
		PQclear(r);
		return NULL;
	}
	return r;
}

PGresult *db_query(PGconn *c, const char *sql, int n, const char *const *params)
{
	return query_(c, sql, n, params, 0);
}

PGresult *db_query_prepared(PGconn *c, const char *sql, int n, const char *const *params)
{
	return query_(c, sql, n, params, 1);
}

char *db_scalar(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *r = db_query(c, sql, n, params);
	char *v;

	if (!r)
		return NULL;
	if (PQntuples(r) != 1 || PQnfields(r) < 1) {
		char q[64];
		error("query \"%s\" returned %d rows, expected one", first_line(sql, q, sizeof(q)),
		      PQntuples(r));
		PQclear(r);
		return NULL;
	}
	v = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

int db_begin(PGconn *c)
{
	return db_exec(c, "BEGIN", 0, NULL);
}

int db_commit(PGconn *c)
{
	return db_exec(c, "COMMIT", 0, NULL);
}

void db_rollback(PGconn *c)
{
	if (!db_is_down(c) && PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
}

int db_copy_start(PGconn *c, const char *copy_sql)
{
	PGresult *r = PQexec(c, copy_sql);
	char q[64];

	if (PQresultStatus(r) != PGRES_COPY_IN) {
		error("\"%s\" failed: %s", first_line(copy_sql, q, sizeof(q)), msg(c, r));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	return 0;
}

int db_copy_put(PGconn *c, const char *buf, int len)
{
	if (PQputCopyData(c, buf, len) != 1)
		return error("COPY failed: %s", msg(c, NULL));
	return 0;
}

int db_copy_end(PGconn *c)
{
	PGresult *r;
	int ret = 0;

	if (PQputCopyEnd(c, NULL) != 1)
		return error("COPY end failed: %s", msg(c, NULL));
	while ((r = PQgetResult(c))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			ret = error("COPY failed: %s", msg(c, r));
		PQclear(r);
	}
	return ret;
}

int db_copy_escape(const char *s, char *out, int outlen)
{
	int o = 0;

	for (; *s; s++) {
		const char *esc = NULL;

		switch (*s) {
		case '\\': esc = "\\\\"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		}
		if (o + 3 > outlen)
			return -1;
		if (esc) {
			out[o++] = esc[0];
			out[o++] = esc[1];
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return o;
}
