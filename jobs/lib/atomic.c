#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "err.h"

static char *dir_of(const char *path)
{
	char *copy = xstrdup(path), *d = xstrdup(dirname(copy));

	free(copy);
	return d;
}

int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	int ret = 0;

	if (fd < 0)
		return error("cannot open folder \"%s\": %s", dir, strerror(errno));
	if (fsync(fd) && errno != EINVAL)
		ret = error("cannot fsync folder \"%s\": %s", dir, strerror(errno));
	close(fd);
	return ret;
}

/* The new folder's entry is in its parent: without an fsync of the parent
 * a power loss can drop the folder with all that was made durable in it
 * (print: the letters of codes already recorded). */
int mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	int ret = 0;

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = '\0';
		if (!mkdir(p, mode)) {
			char *d = dir_of(p);

			ret = fsync_dir(d);
			free(d);
			if (ret)
				break;
		} else if (errno != EEXIST) {
			ret = error("cannot create folder \"%s\": %s", p, strerror(errno));
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return ret;
}

int mkdir_p_parent(const char *path)
{
	char *d = dir_of(path);
	int ret = mkdir_p(d, 0755);

	free(d);
	return ret;
}

/* The fds of open temporaries, so that a child of fork() lets go of them:
 * it shares their open file descriptions, hence their locks, and a worker
 * outliving its parent would keep a dead run's temporaries "live".
 * O_CLOEXEC covers exec() only. */
static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t held_once = PTHREAD_ONCE_INIT;
static int *held;
static size_t nheld, held_cap;

static void held_prepare(void)
{
	pthread_mutex_lock(&held_mu);
}

static void held_parent(void)
{
	pthread_mutex_unlock(&held_mu);
}

static void held_child(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	/* /dev/null in their place: a stray flush of an inherited FILE then
	 * goes nowhere instead of into whatever file reuses the number */
	for (size_t i = 0; i < nheld; i++)
		if (null < 0 || dup3(null, held[i], O_CLOEXEC) < 0)
			close(held[i]);
	if (null >= 0)
		close(null);
	nheld = 0;
	pthread_mutex_unlock(&held_mu);
}

static void held_init(void)
{
	if (pthread_atfork(held_prepare, held_parent, held_child))
		error("cannot register the fork handler of the atomic writer");
}

/* Close a temporary (its FILE, or the bare fd when fp is NULL), which
 * releases its lock: only once it is renamed or removed. */
static int temp_close(FILE *fp, int fd)
{
	int r;

	pthread_mutex_lock(&held_mu);
	if (fp)
		fd = fileno(fp);
	for (size_t i = 0; i < nheld; i++) {
		if (held[i] == fd) {
			held[i] = held[--nheld];
			break;
		}
	}
	r = fp ? fclose(fp) : close(fd);
	pthread_mutex_unlock(&held_mu);
	return r;
}

/* Create the temporary from template tmp, locked (LOCK_EX) for as long as
 * the writer lives: the sweep tells a live writer's temporary by that lock,
 * never by the pid in the name (reused, or the same for every run in a
 * container). -1 said. */
static int temp_create(char *tmp)
{
	size_t len = strlen(tmp);
	struct stat st;

	pthread_once(&held_once, held_init);
	for (int tries = 0; tries < 10; tries++) {
		int fd, r;

		memcpy(tmp + len - 6, "XXXXXX", 6);
		/* created and registered with no fork() in between */
		pthread_mutex_lock(&held_mu);
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd >= 0) {
			if (nheld == held_cap) {
				held_cap = held_cap ? 2 * held_cap : 8;
				held = xrealloc(held, held_cap * sizeof(*held));
			}
			held[nheld++] = fd;
		}
		pthread_mutex_unlock(&held_mu);
		if (fd < 0)
			return error("cannot create \"%s\": %s", tmp, strerror(errno));
		while ((r = flock(fd, LOCK_EX)) && errno == EINTR)
			;
		if (r) {
			error("cannot lock \"%s\": %s", tmp, strerror(errno));
			unlink(tmp);
			temp_close(NULL, fd);
			return -1;
		}
		/* a sweep may have taken the lock before us and removed the
		 * file: then start again under a new name */
		if (!fstat(fd, &st) && st.st_nlink > 0)
			return fd;
		temp_close(NULL, fd);
	}
	return error("cannot create a temporary beside \"%s\": removed each time", tmp);
}

int atomic_open(struct atomic_file *af, const char *path, mode_t mode)
{
	char *dir = dir_of(path), *copy = xstrdup(path);
	int fd;

	memset(af, 0, sizeof(*af));
	af->path = xstrdup(path);
	/* the pid is for the operator only: the lock tells who is alive */
	af->tmp = xasprintf("%s/.%s.tmp.%d.XXXXXX", dir, basename(copy), (int)getpid());
	free(copy);
	free(dir);
	fd = temp_create(af->tmp);
	if (fd < 0)
		goto fail;
	if (fchmod(fd, mode)) {
		error("cannot chmod \"%s\": %s", af->tmp, strerror(errno));
		unlink(af->tmp);
		temp_close(NULL, fd);
		goto fail;
	}
	af->fp = fdopen(fd, "w");
	if (!af->fp) {
		error("cannot open \"%s\": %s", af->tmp, strerror(errno));
		unlink(af->tmp);
		temp_close(NULL, fd);
		goto fail;
	}
	return 0;
fail:
	free(af->path);
	free(af->tmp);
	memset(af, 0, sizeof(*af));
	return -1;
}

static void af_free(struct atomic_file *af)
{
	free(af->path);
	free(af->tmp);
	memset(af, 0, sizeof(*af));
}

int atomic_commit(struct atomic_file *af)
{
	char *dir = NULL;
	int ret = -1;

	if (!af->fp)
		return error("atomic_commit on a closed file");
	if (fflush(af->fp) || ferror(af->fp)) {
		error("cannot write \"%s\": %s", af->tmp, strerror(errno));
		goto out;
	}
	if (fsync(fileno(af->fp))) {
		error("cannot fsync \"%s\": %s", af->tmp, strerror(errno));
		goto out;
	}
	/* renamed before the close: the lock covers the temporary to its end */
	if (rename(af->tmp, af->path)) {
		error("cannot rename \"%s\" to \"%s\": %s", af->tmp, af->path, strerror(errno));
		goto out;
	}
	if (temp_close(af->fp, -1)) {
		/* written and fsynced: the file stays, as after a crash here */
		af->fp = NULL;
		error("cannot close \"%s\": %s", af->path, strerror(errno));
		af_free(af);
		return -1;
	}
	af->fp = NULL;
	dir = dir_of(af->path);
	ret = fsync_dir(dir);
	free(dir);
	af_free(af);
	return ret;
out:
	atomic_abort(af);
	return ret;
}

void atomic_abort(struct atomic_file *af)
{
	/* removed before the close, which lets go of the lock */
	if (af->tmp)
		unlink(af->tmp);
	if (af->fp)
		temp_close(af->fp, -1);
	af_free(af);
}

int atomic_write(const char *path, const void *buf, size_t len, mode_t mode)
{
	struct atomic_file af;

	if (atomic_open(&af, path, mode))
		return -1;
	if (len && fwrite(buf, 1, len, af.fp) != len) {
		error("cannot write \"%s\": %s", af.tmp, strerror(errno));
		atomic_abort(&af);
		return -1;
	}
	return atomic_commit(&af);
}

static void *bg_write(void *arg)
{
	struct atomic_bg *bg = arg;

	bg->ret = atomic_write(bg->path, bg->buf, bg->len, bg->mode);
	return NULL;
}

int atomic_write_start(struct atomic_bg *bg, const char *path, const void *buf, size_t len,
		       mode_t mode)
{
	*bg = (struct atomic_bg){ .path = path, .buf = buf, .len = len, .mode = mode };
	if (pthread_create(&bg->th, NULL, bg_write, bg) == 0) {
		bg->started = 1;
		return 0;
	}
	/* no thread to be had: write here and now */
	bg->done = 1;
	bg->ret = atomic_write(path, buf, len, mode);
	return bg->ret;
}

int atomic_write_wait(struct atomic_bg *bg)
{
	if (bg->started && !bg->done) {
		pthread_join(bg->th, NULL);
		bg->done = 1;
	}
	return bg->ret;
}

int same_bytes(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	char ba[65536], bb[65536];
	int same = fa && fb;

	while (same) {
		size_t na = fread(ba, 1, sizeof(ba), fa), nb = fread(bb, 1, sizeof(bb), fb);

		same = na == nb && !memcmp(ba, bb, na) && !ferror(fa) && !ferror(fb);
		if (na < sizeof(ba))
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* Can src go to path to: free, and so is to+beside (if beside), or already
 * holding src's bytes? */
static int usable(const char *to, const char *src, const char *beside)
{
	char *b;
	int ok;

	if (!access(to, F_OK))
		return same_bytes(src, to);
	if (!beside)
		return 1;
	b = xasprintf("%s%s", to, beside);
	ok = access(b, F_OK) != 0;
	free(b);
	return ok;
}

char *free_name(const char *dir, const char *name, const char *src, const char *beside)
{
	const char *dot = strrchr(name, '.');
	char *to = xasprintf("%s/%s", dir, name);

	/* NAME.xml, then NAME.2.xml, NAME.3.xml...: a different file of the
	 * same name never replaces one kept before */
	for (int n = 2; !usable(to, src, beside); n++) {
		free(to);
		if (n == 1000) {
			error("no free name for \"%s\" in \"%s\" (999 different files of that name)",
			      name, dir);
			return NULL;
		}
		if (dot && dot != name)
			to = xasprintf("%s/%.*s.%d%s", dir, (int)(dot - name), name, n, dot);
		else
			to = xasprintf("%s/%s.%d", dir, name, n);
	}
	return to;
}

int move_to(const char *src, const char *to)
{
	char *srcdir = dir_of(src), *dstdir = dir_of(to);
	int ret = -1;

	if (!access(to, F_OK) && same_bytes(src, to)) {
		/* the same bytes are already kept there (a move cut short by a
		 * crash, or the same packet again): the source is not needed */
		if (unlink(src)) {
			error("cannot remove \"%s\": %s", src, strerror(errno));
			goto out;
		}
	} else if (renameat2(AT_FDCWD, src, AT_FDCWD, to, RENAME_NOREPLACE) &&
		   (errno != EINVAL || link(src, to) || unlink(src))) {
		/* EINVAL: a file system without RENAME_NOREPLACE; link() never replaces either */
		error("cannot move \"%s\" to \"%s\": %s", src, to, strerror(errno));
		goto out;
	}
	if (fsync_dir(dstdir) || fsync_dir(srcdir))
		goto out;
	ret = 0;
out:
	free(dstdir);
	free(srcdir);
	return ret;
}

int move_into(const char *src, const char *dstdir, char **dst)
{
	char *copy, *to;
	int ret = -1;

	if (mkdir_p(dstdir, 0700))
		return -1;
	copy = xstrdup(src);
	to = free_name(dstdir, basename(copy), src, NULL);
	free(copy);
	if (to && !move_to(src, to))
		ret = 0;
	if (dst && !ret)
		*dst = to;
	else
		free(to);
	return ret;
}

/* ".NAME.tmp.PID.XXXXXX", as atomic_open() names its temporaries. */
static int is_temp_name(const char *n)
{
	const char *t = NULL, *p;

	for (p = strstr(n, ".tmp."); p; p = strstr(p + 1, ".tmp."))
		t = p;
	if (n[0] != '.' || !t || t == n)
		return 0;
	p = t + 5;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p++ != '.' || strlen(p) != 6)
		return 0;
	for (; *p; p++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", *p))
			return 0;
	return 1;
}

int atomic_sweep(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct stat st;
		int fd;

		if (!is_temp_name(de->d_name))
			continue;
		/* no symlinks, no FIFOs (O_NONBLOCK: the open must not hang) */
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		/* A live writer holds LOCK_EX until its rename or unlink, so a
		 * lock we can take is a dead writer's (or one of a binary that
		 * took none). The pid in the name decides nothing: it is reused,
		 * and every run of a container has the same. */
		if (!fstat(fd, &st) && S_ISREG(st.st_mode) && !flock(fd, LOCK_EX | LOCK_NB) &&
		    !unlinkat(dirfd(d), de->d_name, 0))
			n++;
		close(fd);
	}
	closedir(d);
	return n;
}
