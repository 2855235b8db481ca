/* The decompression of archives we read back or audit, done here rather than
 * by libarchive's filters: libarchive's xz reader has no memory limit (a block
 * header of a few bytes can ask for a 4 GiB dictionary, in any block of any
 * stream), and neither reader tells what follows the tar end marker. liblzma
 * and libzstd take a limit for every block and frame; libarchive is handed
 * plain tar. */
#include <archive.h>
#include <errno.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "err.h"
#include "unpack.h"

#define CHUNK (64 * 1024)
/* The writer's xz preset 6 uses an 8 MiB dictionary, zstd level 3 at most
 * 8 MiB windows; the limits leave room for other presets. */
#define XZ_MEMLIMIT (72ull << 20)
#define ZSTD_WINDOW_LOG_MAX 26 /* 64 MiB */
/* Zeros after the end marker are tar's padding to its record size (10 KiB
 * by default); more than this is not what any writer leaves. */
#define TRAILER_MAX (1 << 20)

struct unpack {
	FILE *f;
	int kind; /* 'x' xz, 'z' zstd */
	lzma_stream xz;
	ZSTD_DCtx *zs;
	int ended;          /* the compressed data ended */
	int frame_open;     /* zstd: inside a frame */
	unsigned char in[CHUNK];
	size_t in_len, in_pos;
	/* two output buffers, alternating: the one handed out last and the one
	 * before stay valid, so the bytes libarchive took but did not use can
	 * still be looked at after the end marker */
	unsigned char out[2][CHUNK];
	size_t out_len[2];
	int cur;
	unsigned long long delivered; /* bytes handed to libarchive */
	char why[160];
};

static int fill(struct unpack *u)
{
	if (u->in_pos < u->in_len)
		return 0;
	u->in_len = fread(u->in, 1, sizeof(u->in), u->f);
	u->in_pos = 0;
	if (!u->in_len && ferror(u->f)) {
		snprintf(u->why, sizeof(u->why), "read error: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Up to CHUNK decompressed bytes into buf: >0 bytes, 0 the stream's end, -1
 * an error (u->why). */
static long step(struct unpack *u, unsigned char *buf)
{
	size_t got = 0;

	while (!u->ended && got < CHUNK) {
		size_t was_in, was_got = got;

		if (fill(u))
			return -1;
		was_in = u->in_pos;
		if (u->kind == 'x') {
			lzma_ret rc;

			u->xz.next_in = u->in + u->in_pos;
			u->xz.avail_in = u->in_len - u->in_pos;
			u->xz.next_out = buf + got;
			u->xz.avail_out = CHUNK - got;
			/* LZMA_FINISH once the file is read: only then does a
			 * decoder of concatenated streams say where they end */
			rc = lzma_code(&u->xz, u->in_len ? LZMA_RUN : LZMA_FINISH);
			u->in_pos = u->in_len - u->xz.avail_in;
			got = CHUNK - u->xz.avail_out;
			if (rc == LZMA_STREAM_END) {
				u->ended = 1;
			} else if (rc == LZMA_MEMLIMIT_ERROR) {
				snprintf(u->why, sizeof(u->why),
					 "xz needs %llu MiB to decompress, over the %llu MiB limit",
					 (unsigned long long)(lzma_memusage(&u->xz) >> 20),
					 XZ_MEMLIMIT >> 20);
				return -1;
			} else if (rc == LZMA_BUF_ERROR || (rc == LZMA_OK && !u->in_len && got == was_got)) {
				snprintf(u->why, sizeof(u->why), "xz data is truncated");
				return -1;
			} else if (rc != LZMA_OK) {
				snprintf(u->why, sizeof(u->why), "xz data is corrupt (liblzma error %d)", (int)rc);
				return -1;
			}
		} else {
			ZSTD_inBuffer in = { u->in, u->in_len, u->in_pos };
			ZSTD_outBuffer out = { buf, CHUNK, got };
			size_t rc = ZSTD_decompressStream(u->zs, &out, &in);

			if (ZSTD_isError(rc)) {
				snprintf(u->why, sizeof(u->why), "zstd data refused: %s", ZSTD_getErrorName(rc));
				return -1;
			}
			u->in_pos = in.pos;
			got = out.pos;
			if (u->in_pos != was_in || got != was_got) {
				u->frame_open = rc != 0; /* 0: a frame ended, all of it out */
			} else if (!u->in_len) {
				/* the file is read and nothing more comes out */
				if (u->frame_open) {
					snprintf(u->why, sizeof(u->why), "zstd data is truncated");
					return -1;
				}
				u->ended = 1;
			}
		}
	}
	return (long)got;
}

static la_ssize_t on_read(struct archive *a, void *arg, const void **buf)
{
	struct unpack *u = arg;
	long n;

	u->cur ^= 1;
	n = step(u, u->out[u->cur]);
	if (n < 0) {
		archive_set_error(a, EINVAL, "%s", u->why);
		return -1;
	}
	u->out_len[u->cur] = (size_t)n;
	u->delivered += (unsigned long long)n;
	*buf = u->out[u->cur];
	return n;
}

struct unpack *unpack_open(struct archive *a, const char *path, char *why, size_t n)
{
	static const unsigned char xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0 };
	static const unsigned char zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	struct unpack *u = xcalloc(1, sizeof(*u));
	lzma_stream init = LZMA_STREAM_INIT;

	u->xz = init;
	u->f = fopen(path, "rb");
	if (!u->f) {
		snprintf(why, n, "cannot open: %s", strerror(errno));
		free(u);
		return NULL;
	}
	if (fill(u) || u->in_len < 6) {
		snprintf(why, n, "%s", u->in_len < 6 ? "too short for xz or zstd" : u->why);
		goto fail;
	}
	if (!memcmp(u->in, xz_magic, 6)) {
		u->kind = 'x';
		/* concatenated streams and padding, as xz(1) reads them */
		if (lzma_stream_decoder(&u->xz, XZ_MEMLIMIT, LZMA_CONCATENATED) != LZMA_OK)
			abort();
	} else if (!memcmp(u->in, zstd_magic, 4)) {
		u->kind = 'z';
		u->zs = ZSTD_createDCtx();
		if (!u->zs || ZSTD_isError(ZSTD_DCtx_setParameter(u->zs, ZSTD_d_windowLogMax,
								      ZSTD_WINDOW_LOG_MAX)))
			abort();
	} else {
		snprintf(why, n, "neither xz nor zstd");
		goto fail;
	}
	/* no close callback: u is the caller's (libarchive reads the first
	 * chunk here, and on a failure would otherwise free it in some paths
	 * and not in others) */
	if (archive_read_open(a, u, NULL, on_read, NULL) != ARCHIVE_OK) {
		snprintf(why, n, "cannot open: %s", archive_error_string(a));
		goto fail;
	}
	return u;
fail:
	unpack_free(u);
	return NULL;
}

int unpack_end_ok(struct archive *a, struct unpack *u, char *why, size_t n)
{
	/* where the tar reader stopped: the end marker's last byte */
	unsigned long long used = (unsigned long long)archive_filter_bytes(a, 0);
	unsigned long long total = u->delivered;
	int prev = u->cur ^ 1;
	unsigned long long held = u->out_len[u->cur] + u->out_len[prev];
	unsigned char *spare = xmalloc(CHUNK);
	long k;
	int ret = -1;

	if (used > total || total - used > held) {
		snprintf(why, n, "cannot tell what follows the tar end marker");
		goto out;
	}
	/* taken but not used: the tail of the buffer before, then the last one */
	for (unsigned long long at = used; at < total; at++) {
		unsigned long long start_cur = total - u->out_len[u->cur];
		unsigned char c = at >= start_cur ? u->out[u->cur][at - start_cur]
						  : u->out[prev][at - (start_cur - u->out_len[prev])];

		if (c) {
			snprintf(why, n, "data after the tar end marker (at byte %llu)", at);
			goto out;
		}
	}
	/* and what was never asked for */
	while ((k = step(u, spare)) > 0) {
		for (long i = 0; i < k; i++)
			if (spare[i]) {
				snprintf(why, n, "data after the tar end marker (at byte %llu)",
					 total + (unsigned long long)i);
				goto out;
			}
		total += (unsigned long long)k;
		if (total - used > TRAILER_MAX) {
			snprintf(why, n, "more than %d KiB after the tar end marker", TRAILER_MAX >> 10);
			goto out;
		}
	}
	if (k < 0) {
		snprintf(why, n, "%s", u->why);
		goto out;
	}
	ret = 0;
out:
	free(spare);
	return ret;
}

void unpack_free(struct unpack *u)
{
	if (!u)
		return;
	if (u->f)
		fclose(u->f);
	lzma_end(&u->xz);
	ZSTD_freeDCtx(u->zs);
	free(u);
}
