/* Test driver: run print-letters as `esia-batch rerun BATCH` will (with
 * ctx->rerun_of set), until the rerun command lands (issue 8).
 *   print-rerun BATCH [print-letters options] */
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../jobs/print_letters.c"

int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help"))
			return 1;
	return 0;
}

struct config *ctx_config(struct ctx *ctx)
{
	if (!ctx->cfg) {
		ctx->cfg = config_load(ctx->config_file);
		if (ctx->cfg)
			log_setup(0, 0);
	}
	return ctx->cfg;
}

int main(int argc, char **argv)
{
	struct ctx ctx = { 0 };
	int ret;

	if (argc < 2 || parse_int(argv[1], &ctx.rerun_of) || ctx.rerun_of <= 0) {
		fprintf(stderr, "usage: print-rerun BATCH [options]\n");
		return 2;
	}
	argv[1] = "print-letters";
	ret = cmd_print_letters(argc - 1, argv + 1, &ctx);
	config_free(ctx.cfg);
	xslt_cleanup();
	xmlCleanupParser();
	return ret;
}
