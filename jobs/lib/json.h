/* Minimal JSON output: escaping of strings for --json and registries. */
#ifndef ESIA_JSON_H
#define ESIA_JSON_H

#include <stdio.h>

/* Write s as a JSON string literal (quotes included) that a strict RFC 8259
 * parser takes: UTF-8 characters (as utf8_next() reads them) pass through,
 * control characters (C0, DEL, C1) and U+2028/U+2029 are \u-escaped, and
 * each byte that is no UTF-8 becomes \ufffd (U+FFFD), whatever s holds. */
void json_print_str(FILE *f, const char *s);

#endif
