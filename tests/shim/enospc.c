/* LD_PRELOAD shim for the full-disk tests: fsync() of a file or folder under
 * $ENOSPC_DIR fails with ENOSPC, as on a file system that ran out of space
 * (what was written cannot be made durable). Everything else passes through.
 * A shim, not a tiny mounted file system, so the tests need no privileges. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fsync(int fd)
{
	static int (*real)(int);
	const char *dir = getenv("ENOSPC_DIR");
	char link[64], path[PATH_MAX];
	ssize_t n;

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (dir && *dir) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, path, sizeof(path) - 1);
		if (n > 0) {
			path[n] = '\0';
			if (!strncmp(path, dir, strlen(dir))) {
				errno = ENOSPC;
				return -1;
			}
		}
	}
	return real(fd);
}
