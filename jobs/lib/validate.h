/* Domain validators (DESIGN.md §4). Each takes user text, writes the
 * normalised form into out (size given) and returns 0, or returns -1 with a
 * static one-line reason in *why. No personal data goes into reasons. */
#ifndef ESIA_VALIDATE_H
#define ESIA_VALIDATE_H

#include <stddef.h>

/* out: 11 digits. Accepts "112-233-445 95", "11223344595". */
int valid_snils(const char *in, char *out, size_t n, const char **why);
/* Check number for the first nine digits (0..99). */
int snils_checksum(const char *nine_digits);

/* Series+number "4509 123456" -> out "4509123456". Dates are YYYY-MM-DD
 * and may be NULL to skip those rules; today NULL means the real date. */
int valid_passport(const char *sernum, const char *issued, const char *born,
		   const char *issuer, const char *today, char *out, size_t n,
		   const char **why);
/* "770-001" or "770001" -> "770-001". */
int valid_issuer_code(const char *in, char *out, size_t n, const char **why);
/* Name field: trimmed; Cyrillic (incl. Ё/ё) or Latin, never both. */
int valid_name(const char *in, char *out, size_t n, const char **why);
/* Russian mobile -> E.164 "+79XXXXXXXXX". */
int valid_phone(const char *in, char *out, size_t n, const char **why);
/* 6-digit postal index. */
int valid_index(const char *in, char *out, size_t n, const char **why);
/* 14-digit domestic tracking number with its check digit. */
int valid_tracking(const char *in, char *out, size_t n, const char **why);
/* Check digit for the first 13 digits of a tracking number. */
int tracking_check_digit(const char *thirteen_digits);
/* YYYY-MM-DD, a real calendar date. */
int valid_date(const char *in, int *y, int *m, int *d);
/* The citizen's wording (Russian, what to fix) of a reason above; an
 * unknown reason comes back as it is. */
const char *valid_why_ru(const char *why);

/* Decode one UTF-8 character at s (NUL ends it): U+0000-U+10FFFF, no
 * surrogate, no overlong form; returns its length in bytes (1-4), or -1
 * when s starts none. */
int utf8_next(const unsigned char *s, unsigned *cp);
/* 1 when the whole of s is UTF-8 text as utf8_next() reads it, else 0. */
int utf8_text(const char *s);
/* 1 when the whole of s is UTF-8 text that utf8_line_unsafe() finds
 * nothing in: one line, printable (a MANIFEST or a rejected/ file name). */
int utf8_line_text(const char *s);
/* Bytes of the longest start of s's first len bytes, at most max, that
 * ends between characters as utf8_next() reads them (a byte that starts
 * none counts as one): a cut that never splits a character. */
size_t utf8_cut(const char *s, size_t len, size_t max);
/* 1 for a control character: C0, DEL or C1 (U+0080-U+009F; NEL ends a
 * line and CSI starts a terminal sequence for some readers). The one
 * definition: callers add their own rules beside it. */
int utf8_is_control(unsigned cp);
/* 1 for what may not stand as itself in one line of text: a control
 * character, or U+2028/U+2029 (LINE/PARAGRAPH SEPARATOR, a line end to
 * JavaScript and to log readers that honour them). */
int utf8_line_unsafe(unsigned cp);

#endif
