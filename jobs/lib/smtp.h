/* SMTP submission with libcurl: one easy handle for the whole run, so the
 * connection (and its TLS session and authentication) is reused from one
 * message to the next. [smtp] url, tls (starttls|smtps|none), ca_bundle,
 * username, password (secret file), from; [notify] timeout. */
#ifndef ESIA_SMTP_H
#define ESIA_SMTP_H

#include <stddef.h>

struct config;
struct smtp;

/* What happened to one message. */
enum send_result {
	SEND_OK,        /* accepted by the server */
	SEND_TRANSIENT, /* the message: try again later (4xx to it, silence after it) */
	SEND_PERMANENT, /* the message: never going to work (5xx to RCPT or body, SMS 400/422) */
	SEND_DOWN,      /* the server, not the message: stop the channel, count no attempt */
};

/* Check the configuration and prepare the handle; NULL after the error. */
struct smtp *smtp_open(const struct config *cfg);
/* Send one message (CRLF text as from mail_build) to one recipient, both
 * addresses as from mail_addr_wire(); intl: the recipient's local part is
 * not ASCII (libcurl then asks for SMTPUTF8 where the server offers it). On
 * failure a reason goes to why; it may quote the server (libcurl's error
 * text): clean_text() before storing or logging it. */
enum send_result smtp_send(struct smtp *s, const char *from, const char *to, int intl,
			   const char *msg, size_t len, char *why, size_t whyn);
/* Connections opened so far (for the log and the tests). */
long smtp_connections(const struct smtp *s);
void smtp_close(struct smtp *s);

#endif
