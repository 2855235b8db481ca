/* Minimal JSON output: escaping of strings for --json and registries. */
#ifndef ESIA_JSON_H
#define ESIA_JSON_H

#include <stdio.h>

/* Write s as a JSON string literal (quotes included), UTF-8 passed through. */
void json_print_str(FILE *f, const char *s);

#endif
