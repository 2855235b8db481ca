/* The command table's view of a command: what every cmd_* receives. */
#ifndef ESIA_BATCH_H
#define ESIA_BATCH_H

#include <libpq-fe.h>

#include "config.h"
#include "err.h"

struct ctx {
	const char *config_file; /* --config, or NULL */
	struct config *cfg;      /* loaded on first ctx_config() */
	int verbosity;           /* -1 quiet, 0 normal, 1 verbose */
	int json;                /* --json */
	int parallel;            /* --parallel: share work by row claims */
	long long rerun_of;      /* set by `rerun` before calling a job */
	int connect_exit;        /* why ctx_connect() returned NULL: exit code */
};

/* Load the configuration once; NULL after printing the error. */
struct config *ctx_config(struct ctx *ctx);
/* Connect with the configuration; NULL after printing the error, and
 * ctx->connect_exit says how to exit: EXIT_FAILED for a configuration that
 * cannot be loaded (retrying will not help; cron's units take 75 as
 * success), EXIT_TEMPFAIL for a database that cannot be reached. */
PGconn *ctx_connect(struct ctx *ctx);
/* Nonzero if argv holds -h/--help; commands print their help and return 0. */
int wants_help(int argc, char **argv);

/* Run a command by name (argv[0]); used by `rerun`. */
int run_command(int argc, char **argv, struct ctx *ctx);

/* Each command: parse its own options, return an exit code (err.h). */
#define CMD(name) int name(int argc, char **argv, struct ctx *ctx)
CMD(cmd_migrate);
CMD(cmd_config);
CMD(cmd_validate);
CMD(cmd_batches);
CMD(cmd_batch);
CMD(cmd_status);
CMD(cmd_rerun);
CMD(cmd_export_checks);
CMD(cmd_import_responses);
CMD(cmd_print_letters);
CMD(cmd_redeem);
CMD(cmd_notify);
CMD(cmd_archive);
CMD(cmd_audit);

#endif
