/* esia-batch migrate: apply schema/NNN_*.sql in order, in one transaction,
 * recorded in schema_version. Refuses a database newer than this binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "esia-batch.h"
#include "log.h"
#include "migrate.h"

static const char usage[] = "esia-batch migrate [--status]";

static const char help[] =
	"usage: esia-batch migrate [--status]\n"
	"\n"
	"Apply the schema migrations this binary carries to the configured database,\n"
	"all in one transaction, and record them in schema_version. Running it again\n"
	"is a no-op. A database whose schema is newer than the binary is refused.\n"
	"\n"
	"  --status   print the database's and the binary's schema versions only\n"
	"\n"
	"Exit: 0 done, 1 failed, 2 usage, 75 database unreachable.\n";

static int is_applied(PGresult *done, int version)
{
	for (int i = 0; i < PQntuples(done); i++)
		if (atoi(PQgetvalue(done, i, 0)) == version)
			return 1;
	return 0;
}

CMD(cmd_migrate)
{
	int status_only = 0, have = 0, newest = migrations[n_migrations - 1].version;
	int applied = 0, missing = 0, ret = EXIT_FAILED;
	PGconn *c = NULL;
	PGresult *done = NULL;
	char *v = NULL;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--status"))
			status_only = 1;
		else
			return usage_error(usage, "unknown option \"%s\"", argv[i]);
	}
	c = ctx_connect(ctx);
	if (!c)
		return ctx->connect_exit;
	/* Serialise concurrent migrators; the lock goes with the transaction. */
	if (db_begin(c) ||
	    /* "already exists, skipping" and the like are not news */
	    db_exec(c, "SET LOCAL client_min_messages = warning", 0, NULL) ||
	    db_exec(c, "SELECT pg_advisory_xact_lock(1, hashtext('esia-batch:migrate'))", 0, NULL) ||
	    db_exec(c, "CREATE TABLE IF NOT EXISTS schema_version ("
		       " version integer PRIMARY KEY, name text NOT NULL,"
		       " applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL))
		goto out;
	v = db_scalar(c, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL);
	if (!v)
		goto out;
	have = atoi(v);
	/* Versions are applied by presence, not by "above the newest": a
	 * migration numbered below one already applied (branches landing in
	 * another order) is still applied once. */
	done = db_query(c, "SELECT version FROM schema_version", 0, NULL);
	if (!done)
		goto out;
	for (int i = 0; i < n_migrations; i++)
		missing += !is_applied(done, migrations[i].version);
	if (status_only) {
		printf("database schema version %d, binary knows %d%s\n", have, newest,
		       missing ? " (migrate needed)" : "");
		ret = have > newest ? EXIT_FAILED : 0;
		goto out;
	}
	if (have > newest) {
		error("database schema version %d is newer than this binary (%d); upgrade esia-batch",
		      have, newest);
		goto out;
	}
	for (int i = 0; i < n_migrations; i++) {
		const struct migration *m = &migrations[i];
		char ver[16];
		const char *p[2] = { ver, m->name };
		char what[160];

		if (is_applied(done, m->version))
			continue;
		snprintf(what, sizeof(what), "migration %s", m->name);
		if (db_script(c, m->sql, what))
			goto out;
		snprintf(ver, sizeof(ver), "%d", m->version);
		if (db_exec(c, "INSERT INTO schema_version (version, name) VALUES ($1::int, $2)", 2,
			    p))
			goto out;
		log_event(LOG_LVL_INFO, "migrate.applied", "version=%d name=%s", m->version, m->name);
		applied++;
	}
	/* Tables added by any migration get the role grants without each file
	 * having to remember them. */
	if (applied &&
	    db_script(c, "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO esia_batch;"
			 "REVOKE UPDATE, DELETE ON audit_events FROM esia_batch;"
			 "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO esia_batch;"
			 "GRANT SELECT ON ALL TABLES IN SCHEMA public TO esia_auditor", "role grants"))
		goto out;
	if (db_commit(c))
		goto out;
	if (applied)
		printf("migrated from version %d to %d (%d migration%s)\n", have, newest, applied,
		       applied == 1 ? "" : "s");
	else
		printf("schema is up to date (version %d)\n", have);
	ret = 0;
out:
	/* the database went away (a restart while we waited for the lock):
	 * try later, as the help says, not a failure */
	if (ret && db_is_down(c))
		ret = EXIT_TEMPFAIL;
	if (ret && c)
		db_rollback(c);
	free(v);
	PQclear(done);
	PQfinish(c);
	return ret;
}
