/* esia-batch config check: load the configuration and print it, masked. */
#include <stdio.h>
#include <string.h>

#include "esia-batch.h"

static const char help[] =
	"usage: esia-batch [--config FILE] config check [--json]\n"
	"       esia-batch config keys\n"
	"\n"
	"Load the configuration (--config, $ESIA_BATCH_CONFIG, /etc/esia-batch/esia-batch.conf),\n"
	"report the first error with file and line, or print every setting with its\n"
	"effective value. Secret files are named, never read out; passwords in the\n"
	"conninfo are masked. `config keys` lists every key with its type, default\n"
	"and meaning.\n"
	"\n"
	"Exit: 0 valid, 1 invalid, 2 usage.\n";

CMD(cmd_config)
{
	struct config *cfg;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "keys")) {
		config_describe();
		return 0;
	}
	if (argc != 2 || strcmp(argv[1], "check"))
		return usage_error("esia-batch config check [--json] | config keys",
				   "expected \"config check\" or \"config keys\"");
	cfg = ctx_config(ctx);
	if (!cfg)
		return EXIT_FAILED;
	config_print(cfg, ctx->json);
	return config_check_secrets(cfg) ? EXIT_FAILED : 0;
}
