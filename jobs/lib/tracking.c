#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "err.h"
#include "tracking.h"
#include "validate.h"

int tracking_parse_ranges(const char *spec, struct tracking_range **out)
{
	struct tracking_range *r = NULL;
	char *copy = xstrdup(spec), *save = NULL, *tok;
	int n = 0;

	*out = NULL;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct tracking_range t;
		int len = 0;

		while (*tok == ' ')
			tok++;
		if (sscanf(tok, "%8[0-9]:%d-%d%n", t.prefix, &t.first, &t.last, &len) != 3 ||
		    strlen(t.prefix) != 8 || t.prefix[0] == '0' || t.first < 1 ||
		    t.last > 99999 || t.first > t.last || strspn(tok + len, " ") != strlen(tok + len)) {
			error("[letters] tracking_ranges: bad range \"%s\" (want PREFIX8:FIRST-LAST,"
			      " serials 1-99999)", tok);
			goto fail;
		}
		r = xrealloc(r, (n + 1) * sizeof(*r));
		r[n++] = t;
	}
	if (!n) {
		error("[letters] tracking_ranges is not set: no tracking numbers to print with");
		goto fail;
	}
	free(copy);
	*out = r;
	return n;
fail:
	free(copy);
	free(r);
	return -1;
}

void tracking_format(const struct tracking_range *r, int serial, char out[15])
{
	snprintf(out, 15, "%s%05d", r->prefix, serial);
	out[13] = (char)('0' + tracking_check_digit(out));
	out[14] = '\0';
}

/* The next free serial of range r: after the highest burned one. */
static int next_serial(PGconn *c, const struct tracking_range *r, int *next)
{
	char lo[15], hi[15], *v;
	const char *p[2] = { lo, hi };

	snprintf(lo, sizeof(lo), "%s000000", r->prefix);
	snprintf(hi, sizeof(hi), "%s999999", r->prefix);
	v = db_scalar(c, "SELECT coalesce(max(substr(barcode, 9, 5)::int), 0) FROM tracking_numbers"
			 " WHERE barcode BETWEEN $1 AND $2", 2, p);
	if (!v)
		return -1;
	*next = atoi(v) + 1;
	if (*next < r->first)
		*next = r->first;
	free(v);
	return 0;
}

int tracking_burn(PGconn *c, const struct tracking_range *r, int nr, long long batch_id,
		  int n, char **out)
{
	char *nums = xmalloc((size_t)n * 15 + 1), *arr = NULL, batch[24];
	size_t alen;
	int got = 0;

	*out = NULL;
	if (db_begin(c))
		goto fail;
	/* one allocator at a time across hosts; released at commit */
	if (db_exec(c, "SELECT pg_advisory_xact_lock(2, hashtext('esia-batch:tracking'))", 0, NULL))
		goto fail_tx;
	for (int i = 0; i < nr && got < n; i++) {
		int s;

		if (next_serial(c, &r[i], &s))
			goto fail_tx;
		for (; s <= r[i].last && got < n; s++, got++)
			tracking_format(&r[i], s, nums + (size_t)got * 15);
	}
	if (got < n) {
		error("tracking number ranges exhausted: %d more needed; add a range to"
		      " [letters] tracking_ranges", n - got);
		goto fail_tx;
	}
	/* a text[] literal: {n1,n2,...} */
	alen = (size_t)n * 15 + 3;
	arr = xmalloc(alen);
	arr[0] = '{';
	for (int i = 0; i < n; i++) {
		memcpy(arr + 1 + (size_t)i * 15, nums + (size_t)i * 15, 14);
		arr[1 + (size_t)i * 15 + 14] = i + 1 < n ? ',' : '}';
	}
	arr[1 + (size_t)n * 15] = '\0';
	if (!n)
		strcpy(arr, "{}");
	snprintf(batch, sizeof(batch), "%lld", batch_id);
	{
		const char *p[2] = { arr, batch };

		if (db_exec(c, "INSERT INTO tracking_numbers (barcode, batch_id)"
			       " SELECT unnest($1::text[]), $2::bigint", 2, p))
			goto fail_tx;
	}
	if (db_commit(c))
		goto fail;
	free(arr);
	*out = nums;
	return 0;
fail_tx:
	db_rollback(c);
fail:
	free(arr);
	free(nums);
	return -1;
}
