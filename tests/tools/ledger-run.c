/* Test driver for the batch ledger: start a batch of JOB through the real
 * ledger code, visit fault point "ledger-run.hold" (tests make it sleep or
 * die there), then finish as succeeded. Exit codes as the jobs'. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "err.h"
#include "fault.h"
#include "ledger.h"
#include "log.h"

int main(int argc, char **argv)
{
	struct batch b;
	PGconn *c;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: ledger-run JOB [--shared]\n");
		return 2;
	}
	log_setup(0, 0);
	ledger_set_metrics_file(getenv("LEDGER_METRICS"));
	c = db_connect(NULL);
	if (!c)
		return EXIT_TEMPFAIL;
	r = batch_start(c, &b, argv[1], NULL,
			argc > 2 && !strcmp(argv[2], "--shared") ? LOCK_SHARED_WORK : LOCK_EXCLUSIVE,
			"{}", 0);
	if (r) {
		PQfinish(c);
		return r == EXIT_TEMPFAIL ? EXIT_TEMPFAIL : EXIT_FAILED;
	}
	printf("batch %lld\n", b.id);
	fflush(stdout);
	fault_point("ledger-run.hold");
	b.records = 1;
	r = batch_finish(c, &b, "succeeded", NULL);
	PQfinish(c);
	ledger_set_metrics_file(NULL);
	return r ? EXIT_FAILED : 0;
}
