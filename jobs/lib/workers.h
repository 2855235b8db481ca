/* Worker processes: a job splits its work over N forked children, each with
 * its own database connection, and the parent collects their progress and
 * results. Processes, not threads: libxml2, xmlsec and libpq state stay
 * private to each worker, and a crash in one cannot corrupt another.
 *
 * A child must not touch any connection the parent opened (libpq would send
 * the parent's session a Terminate); it opens its own. */
#ifndef ESIA_WORKERS_H
#define ESIA_WORKERS_H

#include <stddef.h>

#include "progress.h"

/* Runs in child k of n; report with worker_tick/worker_report on fd; returns
 * the child's exit code. */
typedef int (*worker_fn)(int k, int n, void *arg, int fd);

/* One unit of work done (the parent's progress moves on). */
void worker_tick(int fd);
/* The child's result: size bytes, copied into the parent's results[k]. */
void worker_report(int fd, const void *res, size_t size);

/* codes[k] of a child that could not be started */
#define WORKER_NOT_STARTED (-1000)

/* Fork n children running fn, wait for all of them. results holds n slots of
 * size bytes (zeroed; a child that never reported leaves its slot zero).
 * codes[k] is child k's exit code, -SIGNAL when it was killed, or
 * WORKER_NOT_STARTED. Returns 0 when every child exited 0. */
int workers_run(int n, worker_fn fn, void *arg, struct progress *prog, void *results,
		size_t size, int *codes);

#endif
