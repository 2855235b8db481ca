/* The files a batch quarantined, found on disk: rejected/<agency>/NAME whose
 * NAME.reason carries the line "batch: <id>". import-responses writes the
 * .reason before it moves the file or counts it on the batch, so this finds
 * a refused file even when the job died before the batch row listed it. */
#ifndef ESIA_REJECTED_H
#define ESIA_REJECTED_H

/* Calls fn(agency, name, arg) for each such file under rejdir, agencies and
 * names in sorted order; fn returns 0 to go on. Returns 0, fn's non-zero
 * value, or -1 with the error printed when rejdir cannot be read (a missing
 * rejdir holds nothing: 0). */
int rejected_of_batch(const char *rejdir, long long batch,
		      int (*fn)(const char *agency, const char *name, void *arg), void *arg);

#endif
