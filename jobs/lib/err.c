#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

static void *oom(void)
{
	fputs("esia-batch: fatal: out of memory\n", stderr);
	abort();
}

/* One message, one line: messages quote names and texts from outside (an
 * inbox file's or archive member's name, a server's words) that may hold
 * newlines, terminal escapes or bytes that are no UTF-8. Escaped here, once
 * for every caller, by the log's own escape_line(): escaping at each call
 * site would be a second way, and each site that forgot a forged line on
 * stderr (which cron mails). */
static void vreport(FILE *f, const char *prefix, const char *fmt, va_list ap)
{
	char *msg, *line;

	if (vasprintf(&msg, fmt, ap) < 0)
		oom();
	line = escape_line(msg);
	fprintf(f, "%s%s\n", prefix, line);
	free(line);
	free(msg);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(stderr, "esia-batch: error: ", fmt, ap);
	va_end(ap);
	return -1;
}

void warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(stderr, "esia-batch: warning: ", fmt, ap);
	va_end(ap);
}

void print_line(FILE *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(f, "", fmt, ap);
	va_end(ap);
}

int usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(stderr, "esia-batch: ", fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: %s\n", usage);
	return EXIT_USAGE;
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	return p ? p : oom();
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	return p ? p : oom();
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	return q ? q : oom();
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	return p ? p : oom();
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	return p ? p : oom();
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? oom() : s;
}
