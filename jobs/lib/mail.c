#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>
#include <openssl/evp.h>

#include "err.h"
#include "mail.h"
#include "validate.h"

/* Bytes of raw text per encoded word: 45 bytes -> 60 base64 characters, so
 * "=?UTF-8?B?" + 60 + "?=" = 72, under the 75 of RFC 2047. */
#define WORD_RAW 45

const char *mail_domain(const char *addr)
{
	const char *at = addr ? strchr(addr, '@') : NULL;

	return at && at[1] ? at + 1 : NULL;
}

int mail_addr_ok(const char *addr)
{
	int ats = 0;

	if (!addr || !*addr || strlen(addr) > 254)
		return 0;
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++) {
		if (*p <= ' ' || *p == 0x7f || strchr("<>()[]\",;:\\", *p))
			return 0;
		ats += *p == '@';
	}
	return ats == 1 && addr[0] != '@' && mail_domain(addr);
}

static int ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

int mail_addr_wire(const char *addr, char *out, size_t n, int *intl, char *why, size_t whyn)
{
	const char *dom = mail_domain(addr);
	char *ace = NULL;
	size_t local;
	int rc, k;

	*intl = 0;
	if (!mail_addr_ok(addr)) {
		snprintf(why, whyn, "not a bare e-mail address");
		return -1;
	}
	local = (size_t)(dom - 1 - addr);
	*intl = !ascii(addr, local);
	/* libidn2 directly, on UTF-8: libcurl's own conversion goes through
	 * the locale, which under cron is "C" and sends the raw bytes */
	if (!ascii(dom, strlen(dom))) {
		rc = idn2_to_ascii_8z(dom, &ace, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
		if (rc != IDN2_OK) {
			snprintf(why, whyn, "the e-mail address's domain is not a valid internationalised"
				 " domain name (%s)", idn2_strerror(rc));
			return -1;
		}
	}
	k = snprintf(out, n, "%.*s@%s", (int)local, addr, ace ? ace : dom);
	idn2_free(ace);
	if (k < 0 || (size_t)k >= n || k > 254) {
		snprintf(why, whyn, "the e-mail address is longer than 254 bytes in ASCII form");
		return -1;
	}
	return 0;
}

int mail_message_id(long long notice_id, const char *domain, char *buf, size_t n)
{
	int k;

	if (!domain || !*domain)
		return -1;
	for (const unsigned char *p = (const unsigned char *)domain; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("<>@()[]\",;:\\", *p))
			return -1;
	k = snprintf(buf, n, "<esia-notice-%lld@%s>", notice_id, domain);
	return k < 0 || (size_t)k >= n ? -1 : 0;
}

static int needs_encoding(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < ' ' || *p >= 0x7f || *p == '=' || *p == '?')
			return 1;
	return 0;
}

char *mail_encode_header(const char *utf8, size_t used)
{
	const unsigned char *s = (const unsigned char *)utf8;
	size_t len = strlen(utf8), cap, o = 0;
	char *out;

	if (!needs_encoding(utf8))
		return xstrdup(utf8);
	cap = (len / 20 + 2) * 90;
	out = xmalloc(cap);
	while (len) {
		/* the first word shares its line with "Name: ": keep lines <= 78;
		 * a name of 66 bytes or more leaves no room (and 78 - used - 12
		 * would wrap around, past raw[]): the first character goes alone */
		size_t first = used < 78 - 12 ? (78 - 12 - used) / 4 * 3 : 0;
		size_t room = o || first >= WORD_RAW ? WORD_RAW : first;
		size_t k = utf8_cut((const char *)s, len, room);
		char raw[WORD_RAW], *q;

		/* no room for the first character: it goes whole (at most 4 bytes) */
		if (!k)
			k = utf8_cut((const char *)s, len, 4);

		/* controls (C0, DEL, C1) never reach a header, not even encoded:
		 * a space for each byte */
		memcpy(raw, s, k);
		for (size_t i = 0; i < k;) {
			unsigned cp;
			int c = utf8_next(s + i, &cp);

			if (c < 0)
				c = 1;
			else if (utf8_is_control(cp))
				memset(raw + i, ' ', (size_t)c);
			i += (size_t)c;
		}
		if (o)
			memcpy(out + o, "\r\n ", 3), o += 3;
		memcpy(out + o, "=?UTF-8?B?", 10);
		o += 10;
		q = out + o;
		o += EVP_EncodeBlock((unsigned char *)q, (unsigned char *)raw, (int)k);
		memcpy(out + o, "?=", 2);
		o += 2;
		s += k;
		len -= k;
	}
	out[o] = '\0';
	return out;
}

void mail_split_subject(char *text, const char **subject, const char **body)
{
	char *nl;

	*subject = "";
	*body = text;
	if (strncmp(text, "Subject:", 8))
		return;
	nl = strchr(text, '\n');
	if (nl) {
		*nl = '\0';
		*body = nl + 1;
		if (nl > text && nl[-1] == '\r')
			nl[-1] = '\0';
	} else {
		*body = text + strlen(text);
	}
	*subject = text + 8;
	while (**subject == ' ' || **subject == '\t')
		(*subject)++;
	if (**body == '\n')
		(*body)++;
	else if ((*body)[0] == '\r' && (*body)[1] == '\n')
		*body += 2;
}

/* Body in canonical form (CRLF), then base64 in lines of 76. */
static void append_body(FILE *f, const char *body)
{
	size_t len = strlen(body), clen = 0;
	unsigned char *canon = xmalloc(len * 2 + 3), line[58];
	char enc[80];

	for (const char *p = body; *p; p++) {
		if (*p == '\n' && (p == body || p[-1] != '\r'))
			canon[clen++] = '\r';
		canon[clen++] = (unsigned char)*p;
	}
	if (clen && canon[clen - 1] != '\n') {
		canon[clen++] = '\r';
		canon[clen++] = '\n';
	}
	for (size_t i = 0; i < clen; i += 57) {
		size_t k = clen - i < 57 ? clen - i : 57;

		memcpy(line, canon + i, k);
		EVP_EncodeBlock((unsigned char *)enc, line, (int)k);
		fprintf(f, "%s\r\n", enc);
	}
	free(canon);
}

char *mail_build(const struct mail *m, size_t *len)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char *buf = NULL, *subj;
	size_t n = 0;
	struct tm tm;
	FILE *f;

	if (!mail_addr_ok(m->from)) {
		error("invalid sender address \"%s\"", m->from ? m->from : "");
		return NULL;
	}
	if (!mail_addr_ok(m->to)) {
		error("invalid recipient address");
		return NULL;
	}
	if (!m->message_id || strpbrk(m->message_id, "\r\n")) {
		error("invalid message id");
		return NULL;
	}
	f = open_memstream(&buf, &n);
	if (!f) {
		error("out of memory building a message");
		return NULL;
	}
	gmtime_r(&m->date, &tm);
	subj = mail_encode_header(m->subject ? m->subject : "", strlen("Subject: "));
	fprintf(f, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday],
		tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	fprintf(f, "From: %s\r\n", m->from);
	fprintf(f, "To: %s\r\n", m->to);
	fprintf(f, "Subject: %s\r\n", subj);
	fprintf(f, "Message-ID: %s\r\n", m->message_id);
	fputs("MIME-Version: 1.0\r\n"
	      "Content-Type: text/plain; charset=UTF-8\r\n"
	      "Content-Transfer-Encoding: base64\r\n"
	      "Auto-Submitted: auto-generated\r\n"
	      "\r\n", f);
	append_body(f, m->body ? m->body : "");
	free(subj);
	if (fclose(f)) {
		free(buf);
		error("out of memory building a message");
		return NULL;
	}
	*len = n;
	return buf;
}

const char *mask_email(const char *addr, char *buf)
{
	const char *d = mail_domain(addr);

	snprintf(buf, 64, "***@%s", d ? d : "***");
	return buf;
}
