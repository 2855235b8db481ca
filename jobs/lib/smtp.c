#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "config.h"
#include "err.h"
#include "curlx.h"
#include "smtp.h"

/* How far the session got with the current message: a refusal is the
 * message's only when it answers its RCPT or its body. */
enum stage { ST_SESSION, ST_MAIL, ST_RCPT, ST_DATA, ST_BODY };

struct smtp {
	CURL *h;
	char *password;
	long connections;
	/* the message being uploaded */
	const char *msg;
	size_t len, off;
	enum stage stage;
	int smtputf8; /* the server's EHLO offered SMTPUTF8 (this session) */
	char curlerr[CURL_ERROR_SIZE];
};

/* libcurl shows us each command it sends (and the body going out); the
 * text is never kept or printed (AUTH carries the password). */
static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	struct smtp *s = arg;

	(void)h;
	if (type == CURLINFO_HEADER_OUT && size >= 4) {
		if (!strncasecmp(data, "MAIL", 4))
			s->stage = ST_MAIL;
		else if (!strncasecmp(data, "RCPT", 4))
			s->stage = ST_RCPT;
		else if (!strncasecmp(data, "DATA", 4))
			s->stage = ST_DATA;
		else if (strncasecmp(data, "QUIT", 4) && strncasecmp(data, "RSET", 4))
			s->stage = ST_SESSION; /* EHLO, STARTTLS, AUTH: a new session */
		if (!strncasecmp(data, "EHLO", 4))
			s->smtputf8 = 0; /* asked again (after STARTTLS too) */
	} else if (type == CURLINFO_HEADER_IN && s->stage == ST_SESSION && size >= 12 &&
		   !strncmp(data, "250", 3) && (data[3] == '-' || data[3] == ' ') &&
		   !strncasecmp(data + 4, "SMTPUTF8", 8) && (size == 12 || strchr(" \r\n", data[12]))) {
		s->smtputf8 = 1;
	} else if (type == CURLINFO_DATA_OUT && size > 0 && s->stage == ST_DATA) {
		s->stage = ST_BODY;
	}
	return 0;
}

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct smtp *s = arg;
	size_t n = size * nmemb;

	if (n > s->len - s->off)
		n = s->len - s->off;
	memcpy(buf, s->msg + s->off, n);
	s->off += n;
	return n;
}

struct smtp *smtp_open(const struct config *cfg)
{
	const char *url = cfg_str(cfg, "smtp", "url"), *tls = cfg_str(cfg, "smtp", "tls");
	const char *ca = cfg_str(cfg, "smtp", "ca_bundle"), *user = cfg_str(cfg, "smtp", "username");
	long long timeout = cfg_dur(cfg, "notify", "timeout");
	struct smtp *s;
	long ssl;

	if (!*url) {
		error("no [smtp] url configured");
		return NULL;
	}
	if (!strcmp(tls, "smtps")) {
		if (strncmp(url, "smtps://", 8)) {
			error("[smtp] tls = smtps needs an smtps:// url, not \"%s\"", url);
			return NULL;
		}
		ssl = CURLUSESSL_ALL;
	} else if (!strcmp(tls, "starttls") || !strcmp(tls, "none")) {
		if (strncmp(url, "smtp://", 7)) {
			error("[smtp] tls = %s needs an smtp:// url, not \"%s\"", tls, url);
			return NULL;
		}
		ssl = strcmp(tls, "none") ? CURLUSESSL_ALL : CURLUSESSL_NONE;
		if (ssl == CURLUSESSL_NONE && !curlx_loopback(url)) {
			error("[smtp] tls = none to \"%s\", another host: mail would cross the network in"
			      " clear; use starttls or smtps (none is for a server on this host)", url);
			return NULL;
		}
	} else {
		error("[smtp] tls must be starttls, smtps or none, not \"%s\"", tls);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	if (*user) {
		s->password = cfg_secret(cfg, "smtp", "password", NULL);
		if (!s->password) {
			error("[smtp] username is set but the password file cannot be read");
			goto fail;
		}
	}
	s->h = curlx_new(url, "smtp,smtps", (long)timeout, ca, s->curlerr);
	if (!s->h)
		goto fail;
	curl_easy_setopt(s->h, CURLOPT_USE_SSL, ssl);
	curl_easy_setopt(s->h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(s->h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(s->h, CURLOPT_READDATA, s);
	/* the debug callback runs only in verbose mode; it prints nothing */
	curl_easy_setopt(s->h, CURLOPT_DEBUGFUNCTION, debug_cb);
	curl_easy_setopt(s->h, CURLOPT_DEBUGDATA, s);
	curl_easy_setopt(s->h, CURLOPT_VERBOSE, 1L);
	if (*user) {
		curl_easy_setopt(s->h, CURLOPT_USERNAME, user);
		curl_easy_setopt(s->h, CURLOPT_PASSWORD, s->password);
	}
	return s;
fail:
	smtp_close(s);
	return NULL;
}

enum send_result smtp_send(struct smtp *s, const char *from, const char *to, int intl,
			   const char *msg, size_t len, char *why, size_t whyn)
{
	struct curl_slist *rcpt = NULL;
	char *env_from = xasprintf("<%s>", from), *env_to = xasprintf("<%s>", to);
	enum send_result res;
	long code = 0, conns = 0;
	CURLcode rc;

	rcpt = curl_slist_append(rcpt, env_to);
	s->msg = msg;
	s->len = len;
	s->off = 0;
	s->curlerr[0] = '\0';
	s->stage = ST_SESSION;
	curl_easy_setopt(s->h, CURLOPT_MAIL_FROM, env_from);
	curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, rcpt);
	rc = curl_easy_perform(s->h);
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
	if (curl_easy_getinfo(s->h, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK)
		s->connections += conns;
	/* the options point at our strings: take them back before freeing */
	curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, NULL);
	curl_easy_setopt(s->h, CURLOPT_MAIL_FROM, NULL);
	curl_slist_free_all(rcpt);
	free(env_from);
	free(env_to);
	if (rc == CURLE_OK)
		return SEND_OK;
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_USE_SSL_FAILED:
	case CURLE_LOGIN_DENIED:
		res = SEND_DOWN;
		break;
	default:
		if (s->stage == ST_RCPT || s->stage == ST_BODY) {
			/* the server answered this message: 5xx it never takes,
			 * 421 it is closing; after the body, a silence may hide a
			 * delivery (sent again later, same Message-ID) */
			if (code >= 500 && code < 600)
				res = SEND_PERMANENT;
			else if (code == 421 || (!code && s->stage == ST_RCPT))
				res = SEND_DOWN;
			else
				res = SEND_TRANSIENT;
		} else {
			/* the greeting, EHLO, AUTH, MAIL FROM or DATA failed, or no
			 * answer came: nothing about this message, so no attempt is
			 * counted (the run stops; an outage never kills a notice) */
			res = SEND_DOWN;
		}
	}
	if (intl && !s->smtputf8 && res == SEND_PERMANENT)
		snprintf(why, whyn, "smtp %ld: the server does not offer SMTPUTF8, which an address"
			 " with a non-ASCII part before @ needs (RFC 6531)", code);
	else if (code)
		snprintf(why, whyn, "smtp %ld: %s", code, s->curlerr[0] ? s->curlerr : curl_easy_strerror(rc));
	else
		snprintf(why, whyn, "smtp: %s", s->curlerr[0] ? s->curlerr : curl_easy_strerror(rc));
	return res;
}

long smtp_connections(const struct smtp *s)
{
	return s ? s->connections : 0;
}

void smtp_close(struct smtp *s)
{
	if (!s)
		return;
	if (s->h)
		curl_easy_cleanup(s->h);
	if (s->password) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
	free(s);
}
