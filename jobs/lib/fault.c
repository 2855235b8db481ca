#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"

void fault_point(const char *name)
{
	static int visits;
	const char *spec = getenv("ESIA_FAULT");
	size_t n = strlen(name);
	const char *act;

	if (!spec || strncmp(spec, name, n) || spec[n] != ':')
		return;
	act = spec + n + 1;
	visits++;
	if (!strncmp(act, "kill", 4)) {
		int at = act[4] == '@' ? atoi(act + 5) : 1;
		if (visits >= at) {
			fprintf(stderr, "fault: killing at %s (visit %d)\n", name, visits);
			fflush(NULL);
			kill(getpid(), SIGKILL);
		}
	} else if (!strncmp(act, "sleep=", 6)) {
		/* said first, so a test can act while we wait here */
		fprintf(stderr, "fault: sleeping %ds at %s (visit %d)\n", atoi(act + 6), name, visits);
		fflush(stderr);
		sleep((unsigned)atoi(act + 6));
	}
}
