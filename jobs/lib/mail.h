/* E-mail messages as RFC 5322 + MIME text: UTF-8, RFC 2047 encoded-word
 * subject, base64 body (survives 7-bit relays), Date and a stable Message-ID
 * derived from the notification id, so a resend is recognisable. */
#ifndef ESIA_MAIL_H
#define ESIA_MAIL_H

#include <stddef.h>
#include <time.h>

struct mail {
	const char *from;       /* bare address: no-reply@example.org */
	const char *to;         /* bare address */
	const char *subject;    /* UTF-8, one line */
	const char *body;       /* UTF-8 text, LF or CRLF line ends */
	const char *message_id; /* "<...@...>" from mail_message_id() */
	time_t date;
};

/* "<esia-notice-ID@DOMAIN>" into buf; -1 if it does not fit or domain is bad. */
int mail_message_id(long long notice_id, const char *domain, char *buf, size_t n);
/* The domain part of an address, or NULL. */
const char *mail_domain(const char *addr);
/* A bare address usable in headers and the envelope: no spaces, controls,
 * angle brackets, quotes or commas, exactly one '@'. */
int mail_addr_ok(const char *addr);
/* The address as it goes on the wire (envelope and To:): a domain that is
 * not ASCII in IDNA A-labels (ivan@почта.рф -> ivan@xn--80a1acny.xn--p1ai),
 * which every server takes; the local part as it is. *intl is set when the
 * local part is not ASCII: only a server offering SMTPUTF8 takes that.
 * 0, or -1 with the reason in why (a domain IDNA refuses, too long). */
int mail_addr_wire(const char *addr, char *out, size_t n, int *intl, char *why, size_t whyn);
/* The whole message with CRLF line ends, NUL-terminated; *len its length.
 * NULL after printing the error (bad address). Caller frees. */
char *mail_build(const struct mail *m, size_t *len);
/* RFC 2047 "B" encoded words for a header value (folded with CRLF SP when
 * longer than one word, lines of at most 78); used = bytes of "Name: "
 * before it on the first line (any number: from 66 on, the first word is
 * one character and that line longer than 78). Plain ASCII without specials is returned as
 * is; control characters (C0, DEL, C1) become spaces. Caller frees. */
char *mail_encode_header(const char *utf8, size_t used);
/* Split a rendered template: an optional first line "Subject: ..." then an
 * optional empty line, then the body. Pointers into text (modified). */
void mail_split_subject(char *text, const char **subject, const char **body);
/* "i***@example.org" into buf (at least 64 bytes); never the local part. */
const char *mask_email(const char *addr, char *buf);

#endif
