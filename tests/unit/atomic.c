/* atomic_sweep() tells live writers from dead ones by the lock a writer
 * holds on its temporary, never by the pid in the name: that pid may be
 * reused, and in a container every run has the same one. mkdir_p() fsyncs
 * the parent of every folder it creates. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic.h"
#include "tap.h"

extern char **environ;

static char top[64], dir[96];

/* The seam: the library's fsync() calls land here (the program's own
 * definition wins over libc's at link time); the folders fsynced are
 * noted, then the real system call is made. */
static char synced[16][PATH_MAX];
static int nsynced;

int fsync(int fd)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (nsynced < 16 && (n = readlink(link, synced[nsynced], PATH_MAX - 1)) > 0) {
		synced[nsynced][n] = '\0';
		nsynced++;
	}
	return (int)syscall(SYS_fsync, fd);
}

static int was_synced(const char *path)
{
	char real[PATH_MAX];

	if (!realpath(path, real))
		return 0;
	for (int i = 0; i < nsynced; i++)
		if (!strcmp(synced[i], real))
			return 1;
	return 0;
}

/* Each case in a folder of its own: what one leaves does not count in the next. */
static void new_dir(int n)
{
	snprintf(dir, sizeof(dir), "%s/%d", top, n);
	mkdir(dir, 0700);
}

static void remove_all(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd))
		printf("# cannot remove %s\n", top);
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* A pid no process has now (a child that has been reaped). */
static pid_t dead_pid(void)
{
	pid_t p = fork();

	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return p;
}

/* dir/.NAME.tmp.PID.XXXXXX with pid in place of the writer's; the new path. */
static char *with_pid(const char *tmp, pid_t pid)
{
	const char *t = strstr(tmp, ".tmp."), *suffix = strrchr(tmp, '.');
	size_t n = (size_t)(t - tmp) + 5;
	char *to = malloc(n + 32 + strlen(suffix));

	sprintf(to, "%.*s%d%s", (int)n, tmp, (int)pid, suffix);
	if (rename(tmp, to))
		perror("rename");
	return to;
}

/* A writer (a child) opens dir/NAME, starts a process that outlives it
 * (fork() or posix_spawn()), tells us its temporary (tmp, 1024 bytes) and
 * that process's pid, and dies without commit or abort. */
static void writer_dies(const char *name, int spawn, char *tmp, pid_t *heir)
{
	int p[2];
	pid_t w;

	if (pipe(p))
		exit(1);
	w = fork();
	if (w == 0) {
		struct atomic_file af;
		char *path;
		pid_t h;

		if (asprintf(&path, "%s/%s", dir, name) < 0 || atomic_open(&af, path, 0600))
			_exit(1);
		fputs("personal data\n", af.fp);
		fflush(af.fp);
		if (spawn) {
			char *argv[] = { "sleep", "30", NULL };

			if (posix_spawnp(&h, "sleep", NULL, NULL, argv, environ))
				_exit(1);
		} else {
			/* the child lets go of the temporary in its fork handler,
			 * which runs before fork() returns there: wait for that, or
			 * the sweep may find the lock still shared (posix_spawn
			 * returns only after the exec) */
			int r[2];
			char c;

			if (pipe(r))
				_exit(1);
			h = fork();
			if (h == 0) {
				close(r[0]);
				if (write(r[1], "x", 1) != 1)
					_exit(1);
				close(r[1]);
				sleep(30);
				_exit(0);
			}
			close(r[1]);
			if (h < 0 || read(r[0], &c, 1) != 1)
				_exit(1);
			close(r[0]);
		}
		dprintf(p[1], "%d %s\n", (int)h, af.tmp);
		_exit(0);
	}
	close(p[1]);
	{
		FILE *f = fdopen(p[0], "r");
		int h = -1;

		if (!f || fscanf(f, "%d %1023s", &h, tmp) != 2)
			tmp[0] = '\0';
		if (f)
			fclose(f);
		*heir = h;
	}
	waitpid(w, NULL, 0);
}

int main(void)
{
	struct atomic_file af;
	char path[128], tmp[1024], *moved;
	pid_t heir;
	FILE *f;

	snprintf(top, sizeof(top), "/tmp/esia-unit-atomic.XXXXXX");
	if (!mkdtemp(top))
		return 1;

	/* a dead writer's temporary, its pid now a live process's (ours) */
	new_dir(1);
	snprintf(path, sizeof(path), "%s/.a.xml.tmp.%d.Ab12Cd", dir, (int)getpid());
	f = fopen(path, "w");
	fputs("personal data\n", f);
	fclose(f);
	ok(atomic_sweep(dir) == 1 && !exists(path),
	   "a dead writer's temporary is removed though its pid is alive again");

	/* a live writer whose name carries a pid that is gone (its pid in
	 * another PID namespace, on a shared volume) */
	new_dir(2);
	snprintf(path, sizeof(path), "%s/b.xml", dir);
	if (atomic_open(&af, path, 0600))
		return 1;
	fputs("live\n", af.fp);
	moved = with_pid(af.tmp, dead_pid());
	free(af.tmp);
	af.tmp = moved;
	ok(atomic_sweep(dir) == 0 && exists(af.tmp),
	   "a live writer's temporary is kept though its pid is gone");
	ok(atomic_commit(&af) == 0 && exists(path), "and its writer commits it");

	/* a writer that dies while a child it forked lives on */
	new_dir(3);
	writer_dies("c.xml", 0, tmp, &heir);
	moved = with_pid(tmp, getpid());
	ok(heir > 0 && atomic_sweep(dir) == 1 && !exists(moved),
	   "a forked child does not keep its dead parent's temporary live");
	if (heir > 0)
		kill(heir, SIGKILL);
	free(moved);

	/* the same with a program it started (posix_spawn runs no fork handlers) */
	new_dir(4);
	writer_dies("d.xml", 1, tmp, &heir);
	moved = with_pid(tmp, getpid());
	ok(heir > 0 && atomic_sweep(dir) == 1 && !exists(moved),
	   "a program started by the writer does not keep its temporary live");
	if (heir > 0)
		kill(heir, SIGKILL);
	free(moved);

	/* mkdir_p: each folder's entry made durable in its parent */
	new_dir(5);
	snprintf(path, sizeof(path), "%s/x/y/z", dir);
	nsynced = 0;
	ok(mkdir_p(path, 0700) == 0 && exists(path), "mkdir_p creates x/y/z");
	{
		char x[128], y[128];

		snprintf(x, sizeof(x), "%s/x", dir);
		snprintf(y, sizeof(y), "%s/x/y", dir);
		ok(was_synced(dir) && was_synced(x) && was_synced(y),
		   "and fsyncs the parent of each folder it created (%d fsyncs)", nsynced);
	}
	nsynced = 0;
	ok(mkdir_p(path, 0700) == 0 && nsynced == 0, "a folder that exists costs no fsync");

	remove_all();
	return done_testing();
}
