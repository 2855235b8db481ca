/* The one atomic writer: files appear complete or not at all.
 * Write to ".NAME.tmp.PID.XXXXXX" in the target folder, fsync, rename, fsync the
 * folder. Readers of spool folders skip names starting with '.'. The writer
 * holds flock(LOCK_EX) on its temporary from creation to the rename or
 * unlink (never inherited across exec or fork); the PID is for people. */
#ifndef ESIA_ATOMIC_H
#define ESIA_ATOMIC_H

#include <pthread.h>
#include <stdio.h>
#include <sys/types.h>

struct atomic_file {
	char *path; /* final name */
	char *tmp;  /* temporary name while open */
	FILE *fp;   /* write here */
};

/* Open a temporary beside path with the given mode (0600 for personal data). */
int atomic_open(struct atomic_file *af, const char *path, mode_t mode);
/* Flush, fsync, rename into place, fsync the folder. Frees af either way. */
int atomic_commit(struct atomic_file *af);
/* Remove the temporary. Safe on a zeroed or already-committed af. */
void atomic_abort(struct atomic_file *af);
/* Whole buffer in one call. */
int atomic_write(const char *path, const void *buf, size_t len, mode_t mode);

/* atomic_write on a helper thread, so that its fsyncs overlap the caller's
 * own work (export records a packet while its file goes to disk). buf and
 * path must stay untouched until atomic_write_wait(), which every started
 * write needs on every path; it is safe to call again, or on a zeroed bg. */
struct atomic_bg {
	pthread_t th;
	int started, done, ret;
	const char *path;
	const void *buf;
	size_t len;
	mode_t mode;
};
/* 0 started (or, without a thread, already written), -1 failed. */
int atomic_write_start(struct atomic_bg *bg, const char *path, const void *buf, size_t len,
		       mode_t mode);
/* 0 when the file is in place (or nothing was started), -1 when it failed. */
int atomic_write_wait(struct atomic_bg *bg);

/* mkdir -p with mode for created folders; the parent of each one created is
 * fsynced before it returns. */
int mkdir_p(const char *path, mode_t mode);
int fsync_dir(const char *dir);
/* mkdir -p of the folder holding path (0755). */
int mkdir_p_parent(const char *path);
/* Rename src into folder dstdir (same file system), fsync both folders.
 * Nothing kept there is ever replaced: when dstdir already holds the same
 * bytes under that name, src is removed; a different file of that name is
 * kept and src becomes NAME.2.EXT (.3, ...). The path src now has is
 * returned in *dst if dst is not NULL (caller frees). */
int move_into(const char *src, const char *dstdir, char **dst);
/* Rename src to exactly to (a name free_name() chose), never replacing: when
 * to already holds the same bytes src is removed, when it holds others the
 * move fails. fsyncs both folders. */
int move_to(const char *src, const char *to);
/* dir/name, or the first of dir/NAME.2.EXT, .3, ... that holds the same
 * bytes as file src or is free; with beside (".reason"), a free name needs
 * NAME+beside free as well, so a file kept beside another never lands on it.
 * Caller frees; NULL (said) when there is none. */
char *free_name(const char *dir, const char *name, const char *src, const char *beside);
/* 1 when the two files hold the same bytes, 0 when not (or unreadable). */
int same_bytes(const char *a, const char *b);
/* Remove temporaries left by writers that died: those whose lock can be
 * taken. Returns how many were removed. */
int atomic_sweep(const char *dir);

#endif
