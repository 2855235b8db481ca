/* Decompression of xz and zstd archives under memory limits, for libarchive. */
#ifndef UNPACK_H
#define UNPACK_H

#include <archive.h>
#include <stddef.h>

struct unpack;

/* Makes PATH (xz or zstd, told by its first bytes) the source of the
 * archive reader a, which must have no filter registered: it reads plain
 * tar. The caller frees the returned object (unpack_free) after a. NULL
 * and why when PATH cannot be opened, is neither or its first chunk cannot
 * be decompressed. */
struct unpack *unpack_open(struct archive *a, const char *path, char *why, size_t n);

/* After the tar reader returned ARCHIVE_EOF: 0 when nothing but zeros (at
 * most 1 MiB) follows the end marker to the end of the compressed data,
 * else -1 and why. */
int unpack_end_ok(struct archive *a, struct unpack *u, char *why, size_t n);

void unpack_free(struct unpack *u);

#endif
