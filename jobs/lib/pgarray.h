/* PostgreSQL array literals ("{1,2,3}", "{\"a b\",c}") built piecewise, for
 * passing a list as one text parameter ($1::bigint[]). */
#ifndef ESIA_PGARRAY_H
#define ESIA_PGARRAY_H

#include <stddef.h>

/* A growable text buffer; zero-initialise, free(b.s) when done. */
struct sbuf {
	char *s;
	size_t len, cap;
};

void sb_add(struct sbuf *b, const char *s, size_t n);
void sb_str(struct sbuf *b, const char *s);
void sb_reset(struct sbuf *b);
/* Back to an earlier length (undo what was appended since). */
void sb_cut(struct sbuf *b, size_t len);
/* Append one element to the literal under construction; quote for text. */
void arr_item(struct sbuf *b, const char *v, int quote);
/* Append a NULL element. */
void arr_null(struct sbuf *b);
/* Close the literal ("{}" when empty) and return it. */
const char *arr_done(struct sbuf *b);

#endif
