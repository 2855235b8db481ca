/* esia-batch: the command table. Global options are taken from anywhere
 * before "--"; the rest of argv goes to the command, argv[0] being its name. */
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curlx.h"
#include "db.h"
#include "esia-batch.h"
#include "ledger.h"
#include "log.h"
#include "safexml.h"
#include "validate.h"
#include "xslt.h"

struct command {
	const char *name;
	CMD((*fn));
	const char *summary;
	int ledger; /* records its command line on its batch, for `rerun` */
};

static const struct command commands[] = {
	{ "export-checks", cmd_export_checks, "pending checks -> signed request packets for PFR/FMS", 1 },
	{ "import-responses", cmd_import_responses, "signed answers -> check results, promotions", 1 },
	{ "print-letters", cmd_print_letters, "activation codes, letter PDF, Russian Post registry", 1 },
	{ "redeem", cmd_redeem, "check a citizen's activation code, confirm the account", 0 },
	{ "notify", cmd_notify, "send e-mail and SMS from the notification outbox", 1 },
	{ "archive", cmd_archive, "pack finished batches into signed, hash-chained archives", 1 },
	{ "audit", cmd_audit, "list, show and verify archives (offline, read-only)", 0 },
	{ "batches", cmd_batches, "list batches (--job, --status, --json)", 0 },
	{ "batch", cmd_batch, "batch show ID: one batch in detail", 0 },
	{ "rerun", cmd_rerun, "re-execute a failed, partial or abandoned batch", 0 },
	{ "status", cmd_status, "the morning dashboard: counts and what needs an operator", 0 },
	{ "migrate", cmd_migrate, "apply schema migrations", 0 },
	{ "config", cmd_config, "config check: print the effective configuration", 0 },
	{ "validate", cmd_validate, "validate snils|passport|name|phone|index|tracking VALUE...", 0 },
	{ NULL, NULL, NULL, 0 },
};

static void print_help(FILE *f)
{
	fputs("usage: esia-batch [--config FILE] [--verbose|--quiet] [--json] COMMAND [ARGS]\n"
	      "       esia-batch help [COMMAND] | --version\n\n"
	      "The ESIA back office: moves citizens' accounts from simplified to standard\n"
	      "(PFR and FMS checks) and to confirmed (activation codes by registered letter).\n\n"
	      "Commands:\n", f);
	for (const struct command *c = commands; c->name; c++)
		fprintf(f, "  %-17s %s\n", c->name, c->summary);
	fputs("\nGlobal options:\n"
	      "  --config FILE   configuration (else $ESIA_BATCH_CONFIG, else\n"
	      "                  /etc/esia-batch/esia-batch.conf)\n"
	      "  -v, --verbose   debug log lines\n"
	      "  -q, --quiet     warnings and errors only\n"
	      "  --json          machine-readable output where output is tabular\n"
	      "  --parallel      jobs that claim rows (export-checks, print-letters, notify)\n"
	      "                  run beside other copies instead of exiting 75\n"
	      "\nExit codes:\n"
	      "  0   done, or nothing to do\n"
	      "  1   failed\n"
	      "  2   usage error\n"
	      "  65  some input was rejected, the rest was processed\n"
	      "  75  another run holds the lock, or a dependency (database, server) is down\n"
	      "\nRun 'esia-batch COMMAND --help' for a command's options.\n", f);
}

int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	}
	return 0;
}

struct config *ctx_config(struct ctx *ctx)
{
	if (!ctx->cfg) {
		ctx->cfg = config_load(ctx->config_file);
		if (ctx->cfg) {
			log_setup(ctx->verbosity, cfg_bool(ctx->cfg, "log", "syslog"));
			ledger_set_metrics_file(cfg_str(ctx->cfg, "metrics", "file"));
		}
	}
	return ctx->cfg;
}

PGconn *ctx_connect(struct ctx *ctx)
{
	struct config *cfg = ctx_config(ctx);

	ctx->connect_exit = cfg ? EXIT_TEMPFAIL : EXIT_FAILED;
	return cfg ? db_connect(cfg) : NULL;
}

static const struct command *find(const char *name)
{
	for (const struct command *c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int run_command(int argc, char **argv, struct ctx *ctx)
{
	const struct command *c = argc > 0 ? find(argv[0]) : NULL;

	if (!c)
		return usage_error("esia-batch COMMAND", "unknown command \"%s\"",
				   argc > 0 ? argv[0] : "");
	return c->fn(argc, argv, ctx);
}

int main(int argc, char **argv)
{
	struct ctx ctx = { 0 };
	char **rest = calloc(argc + 1, sizeof(char *));
	const struct command *cmd;
	int n = 0, ret, dashdash = 0;

	if (!rest)
		return EXIT_FAILED;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (dashdash || !strcmp(a, "--")) {
			/* after "--" everything belongs to the command */
			dashdash = 1;
			rest[n++] = argv[i];
		} else if (!strcmp(a, "--config")) {
			if (++i == argc) {
				free(rest);
				return usage_error("esia-batch --config FILE COMMAND", "--config needs a file");
			}
			ctx.config_file = argv[i];
		} else if (!strncmp(a, "--config=", 9)) {
			ctx.config_file = a + 9;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			ctx.verbosity = 1;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			ctx.verbosity = -1;
		} else if (!strcmp(a, "--json")) {
			ctx.json = 1;
		} else if (!strcmp(a, "--parallel")) {
			ctx.parallel = 1;
		} else if (!strcmp(a, "--version") && n == 0) {
			printf("esia-batch %s\n", ESIA_VERSION);
			free(rest);
			return 0;
		} else if ((!strcmp(a, "-h") || !strcmp(a, "--help")) && n == 0) {
			print_help(stdout);
			free(rest);
			return 0;
		} else {
			rest[n++] = argv[i];
		}
	}
	log_setup(ctx.verbosity, 0);
	if (n == 0) {
		print_help(stderr);
		free(rest);
		return EXIT_USAGE;
	}
	if (!strcmp(rest[0], "help")) {
		if (n > 1 && find(rest[1])) {
			char *hv[] = { rest[1], "--help", NULL };
			ret = find(rest[1])->fn(2, hv, &ctx);
		} else {
			print_help(stdout);
			ret = n > 1 ? usage_error("esia-batch help [COMMAND]",
						  "unknown command \"%s\"", rest[1]) : 0;
		}
		free(rest);
		return ret;
	}
	if (!strcmp(rest[0], "version")) {
		printf("esia-batch %s\n", ESIA_VERSION);
		free(rest);
		return 0;
	}
	cmd = find(rest[0]);
	if (!cmd) {
		ret = usage_error("esia-batch [OPTIONS] COMMAND [ARGS]; see 'esia-batch help'",
				  "unknown command \"%s\"", rest[0]);
		free(rest);
		return ret;
	}
	/* the batch keeps the command line as JSON in the database, which takes
	 * UTF-8 only: a file name in another encoding would fail the run after
	 * its start, and a lossy copy would make `rerun` do something else */
	for (int i = 1; cmd->ledger && i < n; i++) {
		if (!utf8_text(rest[i])) {
			error("argument \"%s\" is not UTF-8 text; %s records its command line"
			      " for rerun and cannot take it (rename the file)", rest[i], cmd->name);
			free(rest);
			return EXIT_USAGE;
		}
	}
	ret = cmd->fn(n, rest, &ctx);
	config_free(ctx.cfg);
	free(rest);
	ledger_set_metrics_file(NULL);
	curlx_cleanup();
	xslt_cleanup();
	safexml_cleanup();
	xmlCleanupParser();
	return ret;
}
