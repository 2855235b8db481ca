/* Tracking numbers (ШПИ) from the ranges the Post assigned us:
 * [letters] tracking_ranges = PREFIX8:FIRST-LAST[,PREFIX8:FIRST-LAST...]
 * PREFIX8 is the 6-digit index (or range prefix) and the 2-digit month code,
 * FIRST-LAST the 5-digit serials. A number is burned (a row in
 * tracking_numbers, committed) before it is printed and never handed out again:
 * allocation always continues after the highest serial burned in a range. */
#ifndef ESIA_TRACKING_H
#define ESIA_TRACKING_H

#include <libpq-fe.h>

struct tracking_range {
	char prefix[9];
	int first, last;
};

/* Parse the configured ranges; returns how many (> 0) into *out (caller
 * frees), or -1 after printing why. */
int tracking_parse_ranges(const char *spec, struct tracking_range **out);
/* 14 digits + NUL into out[15]. */
void tracking_format(const struct tracking_range *r, int serial, char out[15]);
/* Burn n numbers for batch_id in one committed transaction on c (which must
 * be idle: no transaction open). On success *out is an array of n*15 bytes
 * (n NUL-terminated numbers, caller frees). -1 when the ranges are exhausted
 * or the database fails. Concurrent callers serialise on an advisory lock. */
int tracking_burn(PGconn *c, const struct tracking_range *r, int nr, long long batch_id,
		  int n, char **out);

#endif
