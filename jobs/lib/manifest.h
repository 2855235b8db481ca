/* Archive MANIFEST: what an archive holds and where it sits in the chain.
 *
 *   esia-batch archive manifest 1
 *   seq: 3                      position in the chain (1, 2, 3, ...)
 *   batch: 42
 *   job: export-checks
 *   finished: 2026-11-22T10:00:00Z   when the batch finished (UTC)
 *   created: 2026-11-23T02:00:00Z    when the archive was made (UTC)
 *   prev: <sha256 of archive seq-1> | none
 *   packet: <PacketId> <path>        one per XML packet in the archive
 *   missing: <path>                  a file the database names but that was gone
 *   files: N
 *   <blank line>
 *   <sha256> <size> <path>           one per file, N lines
 *
 * Paths are relative to the spool root ("outbox/pfr/<id>.xml", "print/42/x.pdf").
 * The archive (tar, xz or zstd) holds MANIFEST, then MANIFEST.p7s (detached
 * CMS signature over MANIFEST), then the files in manifest order.
 *
 * Also here: SHA-256 helpers and the archive reader shared by `archive`
 * (read-back before recording) and `audit` (offline verification). */
#ifndef ESIA_MANIFEST_H
#define ESIA_MANIFEST_H

#include <stddef.h>

#define MANIFEST_NAME "MANIFEST"
#define MANIFEST_SIG_NAME "MANIFEST.p7s"
#define MANIFEST_MAX_BYTES (64LL << 20)

struct manifest_file {
	char *path;
	long long size;
	char sha256[65];
};

struct manifest_packet {
	char *id;
	char *path;
};

struct manifest {
	long long seq, batch;
	char *job, *finished, *created;
	char prev[65]; /* hex, or "none" */
	struct manifest_file *files;
	size_t nfiles, afiles;
	struct manifest_packet *packets;
	size_t npackets, apackets;
	char **missing;
	size_t nmissing;
};

void manifest_init(struct manifest *m);
void manifest_release(struct manifest *m);
/* Path must be UTF-8 with no control character (C0, DEL, C1) and no
 * U+2028/U+2029, and relative; -1 with a message if not. */
int manifest_add_file(struct manifest *m, const char *path, long long size, const char *sha256);
void manifest_add_packet(struct manifest *m, const char *id, const char *path);
void manifest_add_missing(struct manifest *m, const char *path);
/* The text form; caller frees. */
char *manifest_format(const struct manifest *m, size_t *len);
/* Parse; -1 with a reason in why on anything malformed. */
int manifest_parse(struct manifest *m, const char *buf, size_t len, char *why, size_t n);
const struct manifest_file *manifest_find(const struct manifest *m, const char *path);
/* "pfr" from "outbox/pfr/x.xml"; "" for print files. Writes into buf. */
const char *manifest_agency(const char *path, char *buf, size_t n);

/* SHA-256 */
void sha256_hex(const void *buf, size_t len, char out[65]);
/* Hash a file; size in *size. -1 with a message. */
int sha256_file(const char *path, char out[65], long long *size);

/* Failures collected while checking, each naming its object. */
struct strlist {
	char **v;
	size_t n;
};
void strlist_add(struct strlist *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strlist_release(struct strlist *l);
/* All items joined with sep; caller frees. */
char *strlist_join(const struct strlist *l, const char *sep);

/* Reading archives (libarchive, streaming; never extracts to disk). */
struct arc_reader;
/* Open the archive and read its first two members, which must be MANIFEST and
 * MANIFEST.p7s. NULL with the reason in why. */
struct arc_reader *arc_open(const char *path, char **mtext, size_t *mlen, unsigned char **sig,
			    size_t *siglen, char *why, size_t n);
void arc_close(struct arc_reader *r);

/* Called for every member after its hash has been checked. buf holds the
 * content for members whose path ends in ".xml" (NULL otherwise). */
typedef void (*arc_member_fn)(void *arg, const char *path, const char *buf, size_t len,
			      int hash_ok);

/* Read every remaining member, recompute size and SHA-256, compare with m:
 * a member not in the manifest, a duplicate, a wrong size or hash, or a
 * manifest entry with no member each add a failure naming the file. A member
 * not in the manifest, a duplicate, a link or other non-plain file, or a
 * size other than the manifest's ends the reading there (decompression stays
 * bounded by the sizes the manifest lists).
 * Returns -1 only when the archive cannot be read at all (reason added). */
int arc_check_members(struct arc_reader *r, const struct manifest *m, arc_member_fn fn,
		      void *arg, struct strlist *fails);

/* Skip to one member and read it into *buf (caller frees; at most max
 * bytes), its SHA-256 in sha (hex). Only that member is decompressed into
 * memory, nothing is written to disk. 0 found, 1 not found, -1 error
 * (message printed). */
int arc_extract(struct arc_reader *r, const char *member, size_t max, char **buf, size_t *len,
		char sha[65]);

#endif
