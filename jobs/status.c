/* PLACEHOLDER until issue #8 lands: the command is listed but refuses to run. */
#include <stdio.h>

#include "esia-batch.h"

CMD(cmd_status)
{
	(void)ctx;
	if (wants_help(argc, argv)) {
		printf("usage: esia-batch %s (not implemented yet)\n", argv[0]);
		return 0;
	}
	error("%s is not implemented yet", argv[0]);
	return EXIT_FAILED;
}
