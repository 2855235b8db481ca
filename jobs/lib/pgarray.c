#include <string.h>

#include "err.h"
#include "pgarray.h"

void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

void sb_reset(struct sbuf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

void sb_cut(struct sbuf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->s[len] = '\0';
	}
}

void arr_item(struct sbuf *b, const char *v, int quote)
{
	sb_str(b, b->len ? "," : "{");
	if (!quote) {
		sb_str(b, v);
		return;
	}
	sb_str(b, "\"");
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_str(b, "\\");
		sb_add(b, p, 1);
	}
	sb_str(b, "\"");
}

void arr_null(struct sbuf *b)
{
	sb_str(b, b->len ? ",NULL" : "{NULL");
}

const char *arr_done(struct sbuf *b)
{
	if (!b->len)
		sb_str(b, "{");
	sb_str(b, "}");
	return b->s;
}
