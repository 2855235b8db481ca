/* The one database helper. Each PGresult is owned by the function that got it
 * and cleared on every path; helpers print a message naming what failed and
 * return -1 / NULL. */
#ifndef ESIA_DB_H
#define ESIA_DB_H

#include <libpq-fe.h>

struct config;

/* Connect with [database] conninfo (empty: PG* environment). NULL on error. */
PGconn *db_connect(const struct config *cfg);
/* True when the failure was the server going away (caller exits 75). */
int db_is_down(PGconn *c);
/* The last statement error on c as object names only ("sqlstate=23514
 * constraint=x table=accounts"; "" if none since db_forget_error): never the
 * message or DETAIL, which may quote values. */
const char *db_last_error(PGconn *c);
/* Its SQLSTATE alone ("22P02"; "" if none). */
const char *db_last_sqlstate(PGconn *c);
void db_forget_error(PGconn *c);

/* Run a statement with text parameters; 0 or -1. */
int db_exec(PGconn *c, const char *sql, int n, const char *const *params);
/* Run several statements with no parameters (PQexec); 0 or -1. */
int db_script(PGconn *c, const char *sql, const char *what);
/* Run a query; the result (TUPLES_OK) or NULL. Caller PQclear()s. */
PGresult *db_query(PGconn *c, const char *sql, int n, const char *const *params);
/* The same, for a statement run again and again on one connection (once per
 * packet, say): prepared there the first time, then only executed. */
int db_exec_prepared(PGconn *c, const char *sql, int n, const char *const *params);
PGresult *db_query_prepared(PGconn *c, const char *sql, int n, const char *const *params);
/* One-row, one-column query into a malloc'd string (NULL value -> ""). */
char *db_scalar(PGconn *c, const char *sql, int n, const char *const *params);

int db_begin(PGconn *c);
int db_commit(PGconn *c);
/* Best effort, never fails the caller's error path further. */
void db_rollback(PGconn *c);

/* COPY ... FROM STDIN: start, feed rows (already in text COPY format), end. */
int db_copy_start(PGconn *c, const char *copy_sql);
int db_copy_put(PGconn *c, const char *buf, int len);
int db_copy_end(PGconn *c);

/* Escape s for COPY text format into a caller buffer; returns bytes written
 * or -1 if it does not fit. */
int db_copy_escape(const char *s, char *out, int outlen);

/* Text as people read it on one line, as SQL over the text expression x
 * (NULL stays NULL): each run of whitespace in it one ordinary space, none
 * at either end. Whitespace is the space and SQL_NOT_SPACE_WS: C0 controls
 * (tab, LF, VT, FF, CR among them), DEL, C1 controls (NEL), no-break space,
 * the rest of Unicode's White_Space, and the invisible U+200B and U+FEFF. A
 * control character becomes a space, not nothing, so that one between two
 * words cannot glue them together. regexp_replace() costs four times
 * btrim() and nearly every text is clean already, so only a text with
 * something to change goes through it. x is written three times: a column,
 * not a costly expression. */
#define SQL_NOT_SPACE_WS \
	"\\x01-\\x1f\\x7f-\\u00a0\\u1680\\u2000-\\u200b\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
#define SQL_CLEAN(x) \
	"CASE WHEN " x " ~ E'[" SQL_NOT_SPACE_WS "]|^ | $|  '" \
	" THEN btrim(regexp_replace(" x ", E'[ " SQL_NOT_SPACE_WS "]+', ' ', 'g'), ' ') ELSE " x " END"

#endif
