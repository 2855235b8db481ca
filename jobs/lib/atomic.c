#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	int ret = 0;

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) && errno != EEXIST) {
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

int atomic_open(struct atomic_file *af, const char *path, mode_t mode)
{
	char *dir = dir_of(path), *copy = xstrdup(path);
	int fd;

	memset(af, 0, sizeof(*af));
	af->path = xstrdup(path);
	af->tmp = xasprintf("%s/.%s.tmp.%d.XXXXXX", dir, basename(copy), (int)getpid());
	free(copy);
	free(dir);
	fd = mkstemp(af->tmp);
	if (fd < 0) {
		error("cannot create \"%s\": %s", af->tmp, strerror(errno));
		goto fail;
	}
	if (fchmod(fd, mode)) {
		error("cannot chmod \"%s\": %s", af->tmp, strerror(errno));
		close(fd);
		unlink(af->tmp);
		goto fail;
	}
	af->fp = fdopen(fd, "w");
	if (!af->fp) {
		close(fd);
		unlink(af->tmp);
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
	if (fclose(af->fp)) {
		af->fp = NULL;
		error("cannot close \"%s\": %s", af->tmp, strerror(errno));
		goto out;
	}
	af->fp = NULL;
	if (rename(af->tmp, af->path)) {
		error("cannot rename \"%s\" to \"%s\": %s", af->tmp, af->path, strerror(errno));
		goto out;
	}
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
	if (af->fp)
		fclose(af->fp);
	if (af->tmp)
		unlink(af->tmp);
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

char *free_name(const char *dir, const char *name, const char *src)
{
	const char *dot = strrchr(name, '.');
	char *to = xasprintf("%s/%s", dir, name);

	/* NAME.xml, then NAME.2.xml, NAME.3.xml...: a different file of the
	 * same name never replaces one kept before */
	for (int n = 2; !access(to, F_OK) && !same_bytes(src, to); n++) {
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

char *move_target(const char *src, const char *dstdir)
{
	char *copy = xstrdup(src), *to = free_name(dstdir, basename(copy), src);

	free(copy);
	return to;
}

int move_into(const char *src, const char *dstdir, char **dst)
{
	char *to = NULL, *srcdir = dir_of(src);
	int ret = -1;

	if (mkdir_p(dstdir, 0700))
		goto out;
	to = move_target(src, dstdir);
	if (!to)
		goto out;
	if (!access(to, F_OK)) {
		/* the same bytes are already kept there (a move cut short by a
		 * crash, or the same packet again): the source is not needed */
		if (unlink(src)) {
			error("cannot remove \"%s\": %s", src, strerror(errno));
			goto out;
		}
	} else if (renameat2(AT_FDCWD, src, AT_FDCWD, to, RENAME_NOREPLACE) &&
		   (errno != EINVAL || link(src, to) || unlink(src))) {
		/* EINVAL: a file system without RENAME_NOREPLACE; link() never replaces either */
		error("cannot move \"%s\" to \"%s\": %s", src, dstdir, strerror(errno));
		goto out;
	}
	if (fsync_dir(dstdir) || fsync_dir(srcdir))
		goto out;
	ret = 0;
out:
	if (dst && !ret)
		*dst = to;
	else
		free(to);
	free(srcdir);
	return ret;
}

int atomic_sweep(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		const char *t = strstr(de->d_name, ".tmp.");
		int pid;

		if (de->d_name[0] != '.' || !t || sscanf(t, ".tmp.%d.", &pid) != 1)
			continue;
		/* a live writer (a parallel run) keeps its temporary */
		if (pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH))
			continue;
		char *p = xasprintf("%s/%s", dir, de->d_name);
		if (!unlink(p))
			n++;
		free(p);
	}
	closedir(d);
	return n;
}
