/* Progress for long runs: "done/total rate ETA" redrawn on stderr when it is
 * a terminal (and not --quiet); silent under cron. */
#ifndef ESIA_PROGRESS_H
#define ESIA_PROGRESS_H

struct progress {
	const char *what;
	long long total; /* 0 = unknown */
	long long done;
	double start, last;
	int on;
};

void progress_start(struct progress *p, const char *what, long long total);
void progress_add(struct progress *p, long long n);
void progress_end(struct progress *p);

#endif
