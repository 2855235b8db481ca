/* Structured logging: one key=value line per event on stderr (or syslog).
 * Personal data never goes in clear: use the mask_* helpers for values. */
#ifndef ESIA_LOG_H
#define ESIA_LOG_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* verbosity: -1 quiet (warnings and errors only), 0 normal, 1 debug. */
void log_setup(int verbosity, int use_syslog);
int log_verbosity(void);
/* The batch id stamped on every line from now on (0 = none). */
void log_set_batch(long long batch_id);
/* event is a dotted name ("export.packet"); fmt adds key=value pairs. */
void log_event(enum log_level lvl, const char *event, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Quote a value for key=value output if it holds spaces, quotes, '=',
 * backslashes, control characters (C0, DEL, C1), U+2028/U+2029 or bytes
 * that are no UTF-8; inside the quotes '"' and '\' are backslashed, control
 * characters written as \n, \r, \t or \xHH (each byte), U+2028/U+2029 as
 * \xHH (each byte) and so is each byte that is no UTF-8,
 * so an event stays one line of valid UTF-8 whatever the value. A value
 * longer than buf ends in '..."' (cut between characters). Returns v itself
 * when it needs no quotes, else buf. */
const char *log_quote(const char *v, char *buf, size_t n);
/* Room for any one file name (NAME_MAX bytes) quoted whole. */
#define LOG_QUOTE_NAME (4 * 255 + 8)
/* v on one line: '\', control characters, U+2028/U+2029 and bytes that are
 * no UTF-8 escaped as in log_quote (no quotes added, '"' left as is).
 * Caller frees. */
char *escape_line(const char *v);
/* escape_line() of v cut to at most max characters, between characters
 * and whole escapes (a table cell); *chars (when given) gets how many it
 * holds. Nothing in it is a control character: on a terminal each is a
 * column (wide and combining characters aside). Caller frees. */
char *escape_cut(const char *v, size_t max, size_t *chars);
/* A table cell on f: escape_cut(v, max), then spaces up to width
 * characters (none when it is wider). */
void print_cell(FILE *f, const char *v, size_t max, size_t width);

/* Text from outside (a server's reply) made fit to store and log, in
 * place: each byte that does not begin a valid UTF-8 character becomes '?'
 * (the database refuses the whole statement over one such byte; what
 * utf8_next() reads, up to U+10FFFF, is kept), each control character a space
 * (one event, one line). Returns s. */
char *clean_text(char *s);

/* Masks. Each writes into buf (at least 32 bytes) and returns buf. */
const char *mask_snils(const char *snils, char *buf);    /* ***-***-*45 95 */
const char *mask_passport(const char *ser_num, char *buf); /* ** ** ***456 */
const char *mask_code(const char *code, char *buf);      /* ****-****-****-**** */

#endif
