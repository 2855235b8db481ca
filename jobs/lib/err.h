/* One error idiom: helpers print and return -1; only main() decides to exit. */
#ifndef ESIA_ERR_H
#define ESIA_ERR_H

#include <stddef.h>
#include <stdio.h>

/* Exit codes are a contract (README "Exit codes"). */
enum {
	EXIT_DONE = 0,       /* done, or nothing to do */
	EXIT_FAILED = 1,     /* the job failed */
	EXIT_USAGE = 2,     /* bad command line */
	EXIT_DATAERR = 65,  /* some input rejected, the rest processed */
	EXIT_TEMPFAIL = 75, /* lock held elsewhere or a dependency is down */
};

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* Print "esia-batch: error: ..." to stderr, on one line: the message is
 * escaped as log values are ('\', control characters, bytes that are no
 * UTF-8), so callers pass names and texts from outside as they are. Always
 * returns -1. */
int error(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Print "esia-batch: warning: ..." to stderr, escaped as error() does. */
void warning(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Print one line to f, escaped as error() does: for reports that quote
 * names from outside (audit's verdicts on an archive folder). */
void print_line(FILE *f, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Print a usage line to stderr and return EXIT_USAGE. */
int usage_error(const char *usage, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Allocation that cannot fail quietly: aborts the process on OOM. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

#endif
