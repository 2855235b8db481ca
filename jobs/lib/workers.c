#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "workers.h"

/* The pipe carries 't' (one unit done) and 'r' followed by the result. */
static void put(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the parent is gone; the child's own work still counts */
		p += w;
		len -= (size_t)w;
	}
}

void worker_tick(int fd)
{
	put(fd, "t", 1);
}

void worker_report(int fd, const void *res, size_t size)
{
	put(fd, "r", 1);
	put(fd, res, size);
}

struct child {
	pid_t pid;
	int fd;
	size_t want; /* result bytes still to read; 0 = reading tags */
	size_t got;
};

/* Consume what child k sent; returns 0 at EOF. */
static int drain(struct child *ch, char *slot, size_t size, struct progress *prog)
{
	char buf[4096];
	ssize_t r = read(ch->fd, buf, sizeof(buf));

	if (r < 0)
		return errno == EINTR ? 1 : 0;
	for (ssize_t i = 0; i < r; i++) {
		if (ch->want) {
			size_t take = (size_t)(r - i) < ch->want ? (size_t)(r - i) : ch->want;

			memcpy(slot + ch->got, buf + i, take);
			ch->got += take;
			ch->want -= take;
			i += (ssize_t)take - 1;
		} else if (buf[i] == 't') {
			if (prog)
				progress_add(prog, 1);
		} else if (buf[i] == 'r') {
			ch->want = size;
			ch->got = 0;
		}
	}
	return r > 0;
}

int workers_run(int n, worker_fn fn, void *arg, struct progress *prog, void *results,
		size_t size, int *codes)
{
	struct child *ch = xcalloc((size_t)n, sizeof(*ch));
	struct pollfd *pf = xcalloc((size_t)n, sizeof(*pf));
	int open_fds = 0, ret = 0;
	pid_t parent = getpid();

	if (size)
		memset(results, 0, (size_t)n * size);
	fflush(stdout);
	fflush(stderr);
	for (int k = 0; k < n; k++) {
		int p[2];

		ch[k].fd = -1;
		ch[k].pid = -1;
		codes[k] = WORKER_NOT_STARTED;
		if (pipe(p)) {
			error("cannot start worker %d: %m", k + 1);
			continue;
		}
		ch[k].pid = fork();
		if (ch[k].pid == 0) {
			int rc;

			/* A worker works for its parent's batch and lock: when the
			 * parent dies (kill -9), the next run would take that work
			 * over, so the worker goes too (its transaction rolls back). */
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
				_exit(EXIT_FAILED);
			close(p[0]);
			for (int j = 0; j < k; j++)
				if (ch[j].fd >= 0)
					close(ch[j].fd);
			rc = fn(k, n, arg, p[1]);
			fflush(stdout);
			fflush(stderr);
			/* no atexit handlers: they belong to the parent's state */
			_exit(rc);
		}
		close(p[1]);
		if (ch[k].pid < 0) {
			error("cannot start worker %d: %m", k + 1);
			close(p[0]);
			continue;
		}
		ch[k].fd = p[0];
		open_fds++;
	}
	while (open_fds > 0) {
		for (int k = 0; k < n; k++) {
			pf[k].fd = ch[k].fd;
			pf[k].events = POLLIN;
			pf[k].revents = 0;
		}
		if (poll(pf, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			error("waiting for the workers: %m");
			break;
		}
		for (int k = 0; k < n; k++) {
			if (ch[k].fd < 0 || !(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (!drain(&ch[k], (char *)results + (size_t)k * size, size, prog)) {
				close(ch[k].fd);
				ch[k].fd = -1;
				open_fds--;
			}
		}
	}
	for (int k = 0; k < n; k++) {
		int st;

		if (ch[k].fd >= 0)
			close(ch[k].fd);
		if (ch[k].pid <= 0) {
			ret = -1;
			continue;
		}
		while (waitpid(ch[k].pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st))
			codes[k] = WEXITSTATUS(st);
		else
			codes[k] = -(WIFSIGNALED(st) ? WTERMSIG(st) : SIGABRT);
		if (ch[k].want) /* cut off mid-report: do not believe half a result */
			memset((char *)results + (size_t)k * size, 0, size);
		if (codes[k])
			ret = -1;
	}
	free(pf);
	free(ch);
	return ret;
}
