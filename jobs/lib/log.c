#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"
#include "validate.h"

static int verbosity;
static int to_syslog;
static long long cur_batch;

void log_setup(int v, int use_syslog)
{
	verbosity = v;
	to_syslog = use_syslog;
	if (use_syslog)
		openlog("esia-batch", LOG_PID, LOG_DAEMON);
}

int log_verbosity(void)
{
	return verbosity;
}

void log_set_batch(long long batch_id)
{
	cur_batch = batch_id;
}

static const char *lvl_name[] = { "debug", "info", "warn", "error" };

void log_event(enum log_level lvl, const char *event, const char *fmt, ...)
{
	char ts[32], msg[2048];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n = 0;

	if (lvl == LOG_LVL_DEBUG && verbosity < 1)
		return;
	if (lvl == LOG_LVL_INFO && verbosity < 0)
		return;
	if (cur_batch)
		n = snprintf(msg, sizeof(msg), "batch=%lld ", cur_batch);
	n += snprintf(msg + n, sizeof(msg) - n, "event=%s", event);
	if (fmt && *fmt && n < (int)sizeof(msg) - 1) {
		msg[n++] = ' ';
		msg[n] = '\0';
		va_start(ap, fmt);
		vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
		va_end(ap);
	}
	if (to_syslog) {
		static const int pri[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
		syslog(pri[lvl], "level=%s %s", lvl_name[lvl], msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "ts=%s level=%s %s\n", ts, lvl_name[lvl], msg);
}

/* The longest escape: \xHH for each of U+2028's three bytes, and a NUL. */
#define ESC_MAX 13

/* How the character at p is written in a one-line value, into out: itself,
 * or '\' (and '"' when quoting) backslashed, \n \r \t, and \xHH for each
 * byte of another control character, of U+2028/U+2029 (a line end to some
 * log readers) or of what is no UTF-8 character (as utf8_next() reads it):
 * the line stays one line of valid UTF-8, and shows which bytes came. Sets
 * *used to the bytes of p it stands for; returns the length written. */
static int esc_of(const unsigned char *p, int quotes, char out[ESC_MAX], int *used)
{
	unsigned cp;
	int k = utf8_next(p, &cp), o = 0;

	*used = k < 0 ? 1 : k;
	if (k < 0 || (k > 1 && utf8_line_unsafe(cp))) {
		for (int i = 0; i < *used; i++)
			o += snprintf(out + o, ESC_MAX - o, "\\x%02x", p[i]);
		return o;
	}
	if (k > 1) {
		memcpy(out, p, (size_t)k);
		return k;
	}
	if (cp == '\\' || (quotes && cp == '"'))
		return snprintf(out, ESC_MAX, "\\%c", cp);
	if (cp == '\n')
		return snprintf(out, ESC_MAX, "\\n");
	if (cp == '\r')
		return snprintf(out, ESC_MAX, "\\r");
	if (cp == '\t')
		return snprintf(out, ESC_MAX, "\\t");
	if (utf8_is_control(cp))
		return snprintf(out, ESC_MAX, "\\x%02x", cp);
	out[0] = (char)cp;
	return 1;
}

/* v escaped into buf (n > 0), whole characters and escapes only, at most
 * max characters (one written as itself is one, an escape is ASCII); 1
 * when all of it fit. *chars (when given) gets the characters written. */
static int escape_into(const char *v, char *buf, size_t n, int quotes, size_t max, size_t *chars)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t o = 0, c = 0;
	int all = 1;

	while (*p) {
		char e[ESC_MAX];
		int used, k = esc_of(p, quotes, e, &used);
		size_t w = k == used ? 1 : (size_t)k;

		if (o + k >= n || c + w > max) {
			all = 0;
			break;
		}
		memcpy(buf + o, e, k);
		o += k;
		c += w;
		p += used;
	}
	buf[o] = '\0';
	if (chars)
		*chars = c;
	return all;
}

/* 1 when v may stand unquoted: not empty, no space or '=', and every
 * character written as itself (an escape is longer than what it stands for). */
static int plain_value(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	if (!*p)
		return 0;
	while (*p) {
		char e[ESC_MAX];
		int used;

		if (*p == ' ' || *p == '=' || esc_of(p, 1, e, &used) != used)
			return 0;
		p += used;
	}
	return 1;
}

const char *log_quote(const char *v, char *buf, size_t n)
{
	if (plain_value(v))
		return v;
	if (n < 6)
		return "\"\"";
	/* room kept for '...' (cut short), the closing quote and the NUL */
	buf[0] = '"';
	if (!escape_into(v, buf + 1, n - 5, 1, SIZE_MAX, NULL))
		strcat(buf, "...");
	strcat(buf, "\"");
	return buf;
}

char *escape_line(const char *v)
{
	return escape_cut(v, SIZE_MAX, NULL);
}

char *escape_cut(const char *v, size_t max, size_t *chars)
{
	size_t n = 4 * strlen(v) + 1;
	char *s = xmalloc(n);

	escape_into(v, s, n, 0, max, chars);
	return s;
}

void print_cell(FILE *f, const char *v, size_t max, size_t width)
{
	size_t n;
	char *c = escape_cut(v, max, &n);

	/* padded by characters, not bytes (a Cyrillic letter is two) */
	fprintf(f, "%s%*s", c, n < width ? (int)(width - n) : 0, "");
	free(c);
}

char *clean_text(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p;) {
		unsigned cp;
		int k = utf8_next(p, &cp);

		if (k < 0) {
			*p++ = '?';
			continue;
		}
		/* a C1 control is two bytes: two spaces */
		if (utf8_is_control(cp))
			memset(p, ' ', (size_t)k);
		p += k;
	}
	return s;
}

/* Copy only the digits of s into d (max n-1), return how many. */
static size_t digits_of(const char *s, char *d, size_t n)
{
	size_t k = 0;

	for (; s && *s && k + 1 < n; s++)
		if (isdigit((unsigned char)*s))
			d[k++] = *s;
	d[k] = '\0';
	return k;
}

const char *mask_snils(const char *snils, char *buf)
{
	char d[16];

	if (digits_of(snils, d, sizeof(d)) != 11) {
		strcpy(buf, "***-***-*** **");
		return buf;
	}
	snprintf(buf, 32, "***-***-*%c%c %c%c", d[7], d[8], d[9], d[10]);
	return buf;
}

const char *mask_passport(const char *ser_num, char *buf)
{
	char d[16];

	if (digits_of(ser_num, d, sizeof(d)) != 10) {
		strcpy(buf, "** ** ******");
		return buf;
	}
	snprintf(buf, 32, "** ** ***%c%c%c", d[7], d[8], d[9]);
	return buf;
}

const char *mask_code(const char *code, char *buf)
{
	(void)code; /* nothing of a code is ever shown, not even its length */
	strcpy(buf, "****-****-****-****");
	return buf;
}
