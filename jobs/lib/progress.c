#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "progress.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void draw(struct progress *p, int final)
{
	double el = now() - p->start, rate = el > 0 ? p->done / el : 0;

	fprintf(stderr, "\r%s: %lld", p->what, p->done);
	if (p->total > 0) {
		fprintf(stderr, "/%lld (%d%%)", p->total, (int)(100.0 * p->done / p->total));
		if (!final && rate > 0)
			fprintf(stderr, " ETA %.0fs", (p->total - p->done) / rate);
	}
	fprintf(stderr, " %.0f/s%s\033[K", rate, final ? "\n" : "");
	p->last = now();
}

void progress_start(struct progress *p, const char *what, long long total)
{
	p->what = what;
	p->total = total;
	p->done = 0;
	p->start = p->last = now();
	p->on = isatty(2) && log_verbosity() >= 0;
}

void progress_add(struct progress *p, long long n)
{
	p->done += n;
	if (p->on && now() - p->last >= 0.2)
		draw(p, 0);
}

void progress_end(struct progress *p)
{
	if (p->on)
		draw(p, 1);
}
