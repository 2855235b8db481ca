/* The files a batch quarantined, found on disk: rejected/<agency>/NAME whose
 * NAME.reason carries "batch: <id>" as its third line. import-responses
 * writes the .reason before it moves the file or counts it on the batch, so
 * this finds a refused file even when the job died before the batch row
 * listed it.
 *
 * A .reason file: line 1 what failed, line 2 "file: PATH", line 3
 * "batch: ID", then details. Lines 1 and 2 are escaped to one line each
 * (escape_line()), so line 3 is always the batch; the details may quote
 * anything and are never read for it. In rejected/<agency>/ every name
 * ending in ".reason" is such a file: a refused packet is never kept under
 * one (rejected_name()). */
#ifndef ESIA_REJECTED_H
#define ESIA_REJECTED_H

/* Calls fn(agency, name, arg) for each such file under rejdir, agencies and
 * names in sorted order; fn returns 0 to go on. Returns 0, fn's non-zero
 * value, or -1 with the error printed when rejdir cannot be read (a missing
 * rejdir holds nothing: 0). */
int rejected_of_batch(const char *rejdir, long long batch,
		      int (*fn)(const char *agency, const char *name, void *arg), void *arg);

/* 1 when the .reason file at path says this file was refused by batch: its
 * third line is exactly "batch: <batch>" (0 otherwise, or when unreadable).
 * The one reader of that line: a rejected/ file belongs to a batch only so. */
int rejected_reason_names(const char *path, long long batch);

/* 1 when name is a reason file's name (ends in ".reason"), never a packet's. */
int rejected_is_reason(const char *name);

/* Room in a 255-byte file name for ".NAME.reason.tmp.PID.XXXXXX" and a
 * ".999" that free_name() may add. */
#define REJECTED_NAME_MAX 200

/* 1 when name is valid UTF-8 (as utf8_next() reads it) without control characters and at most
 * REJECTED_NAME_MAX bytes: a name the log, the database, an archive MANIFEST
 * (one path per line) and the quarantine's own files can hold. */
int rejected_plain_name(const char *name);

/* The name a refused file called name is kept under in rejected/<agency>/
 * (free_name() may number it further): name, with control characters, bytes
 * that are no UTF-8 and a leading '.' as '_', cut to REJECTED_NAME_MAX bytes,
 * then ".xml" added when it ends in ".reason". Caller frees. */
char *rejected_name(const char *name);

#endif
