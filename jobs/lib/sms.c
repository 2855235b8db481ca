#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "err.h"
#include "json.h"
#include "curlx.h"
#include "sms.h"
#include "validate.h"

#define ANSWER_MAX 4096

struct sms {
	CURL *h;
	struct curl_slist *headers;
	char answer[ANSWER_MAX + 1];
	size_t alen;
	char curlerr[CURL_ERROR_SIZE];
};

static size_t write_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct sms *s = arg;
	size_t n = size * nmemb, k = n;

	if (k > ANSWER_MAX - s->alen)
		k = ANSWER_MAX - s->alen; /* keep the start, drop the rest */
	memcpy(s->answer + s->alen, buf, k);
	s->alen += k;
	s->answer[s->alen] = '\0';
	return n;
}

struct sms *sms_open(const struct config *cfg)
{
	const char *url = cfg_str(cfg, "sms", "url"), *ca = cfg_str(cfg, "sms", "ca_bundle");
	long long timeout = cfg_dur(cfg, "notify", "timeout");
	char *token = NULL, *auth = NULL;
	struct sms *s;

	if (!*url) {
		error("no [sms] url configured");
		return NULL;
	}
	if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) {
		error("[sms] url must be http:// or https://, not \"%s\"", url);
		return NULL;
	}
	if (!strncmp(url, "http://", 7) && !curlx_loopback(url)) {
		error("[sms] url \"%s\" is plain http to another host: phone numbers and texts would"
		      " cross the network in clear; use https:// (http is for a gateway on this host)",
		      url);
		return NULL;
	}
	token = cfg_secret(cfg, "sms", "token", NULL);
	if (!token) {
		error("cannot read the [sms] token file");
		return NULL;
	}
	if (!*token || strpbrk(token, "\r\n")) {
		error("the [sms] token file must hold one line");
		free(token);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	auth = xasprintf("Authorization: Bearer %s", token);
	s->headers = curl_slist_append(s->headers, auth);
	s->headers = curl_slist_append(s->headers, "Content-Type: application/json; charset=utf-8");
	s->headers = curl_slist_append(s->headers, "Expect:");
	explicit_bzero(auth, strlen(auth));
	explicit_bzero(token, strlen(token));
	free(auth);
	free(token);
	s->h = curlx_new(url, "http,https", (long)timeout, ca, s->curlerr);
	if (!s->h || !s->headers) {
		sms_close(s);
		return NULL;
	}
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->headers);
	curl_easy_setopt(s->h, CURLOPT_POST, 1L);
	curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
	return s;
}

/* The gateway's reason: the "error" (or "message") string of a JSON answer,
 * else the start of the body; its bytes as they came, in whatever charset
 * (the caller cleans them with clean_text() before storing or logging). */
static void answer_reason(const char *body, char *out, size_t n)
{
	static const char *const keys[] = { "\"error\"", "\"message\"", "\"reason\"" };
	const char *p = NULL, *e;
	size_t o;

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]) && !p; k++) {
		const char *q = strstr(body, keys[k]);

		if (!q)
			continue;
		q += strlen(keys[k]);
		while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
			q++;
		if (*q++ != ':')
			continue;
		while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
			q++;
		if (*q == '"')
			p = q + 1;
	}
	if (!p)
		p = body;
	for (e = p; *e; e++)
		if (e != body && *e == '"' && e[-1] != '\\')
			break;
	/* at most 200 bytes, cut between characters (a byte that is no UTF-8,
	 * in the gateway's own charset, is one) */
	o = utf8_cut(p, (size_t)(e - p), n - 1 < 200 ? n - 1 : 200);
	memcpy(out, p, o);
	out[o] = '\0';
}

enum send_result sms_send(struct sms *s, const char *id, const char *phone, const char *text,
			  char *why, size_t whyn)
{
	char *json = NULL, reason[256];
	size_t jlen = 0;
	long code = 0;
	CURLcode rc;
	FILE *f;

	f = open_memstream(&json, &jlen);
	if (!f) {
		snprintf(why, whyn, "out of memory");
		return SEND_TRANSIENT;
	}
	fputs("{\"id\":", f);
	json_print_str(f, id);
	fputs(",\"to\":", f);
	json_print_str(f, phone);
	fputs(",\"text\":", f);
	json_print_str(f, text);
	fputs("}", f);
	if (fclose(f)) {
		free(json);
		snprintf(why, whyn, "out of memory");
		return SEND_TRANSIENT;
	}
	s->alen = 0;
	s->answer[0] = '\0';
	s->curlerr[0] = '\0';
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE, (long)jlen);
	rc = curl_easy_perform(s->h);
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, NULL);
	free(json);
	if (rc != CURLE_OK) {
		curl_off_t connected = 0;

		snprintf(why, whyn, "sms gateway: %s", s->curlerr[0] ? s->curlerr : curl_easy_strerror(rc));
		curl_easy_getinfo(s->h, CURLINFO_CONNECT_TIME_T, &connected);
		switch (rc) {
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
			return SEND_DOWN;
		default:
			/* never connected (a timeout on a host that drops packets):
			 * down; connected, the message may have gone: try again */
			return connected ? SEND_TRANSIENT : SEND_DOWN;
		}
	}
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300)
		return SEND_OK;
	answer_reason(s->answer, reason, sizeof(reason));
	snprintf(why, whyn, "sms gateway %ld%s%s", code, *reason ? ": " : "", reason);
	/* Only a refusal of this message is its fault: 400 or 422. Others are
	 * about us or the gateway (token 401/403, path 404/405, rate 429,
	 * outage 502-504): stop and retry later, no attempt counted. A 500
	 * may be this message's: counted, as a transient failure. */
	if (code == 400 || code == 422)
		return SEND_PERMANENT;
	if (code >= 400 && code != 500)
		return SEND_DOWN;
	return SEND_TRANSIENT;
}

void sms_close(struct sms *s)
{
	if (!s)
		return;
	if (s->h)
		curl_easy_cleanup(s->h);
	curl_slist_free_all(s->headers);
	free(s);
}

const char *mask_phone(const char *phone, char *buf)
{
	size_t n = phone ? strlen(phone) : 0;

	if (n < 6 || n > 20)
		snprintf(buf, 32, "+*******");
	else
		snprintf(buf, 32, "%.2s*******%s", phone, phone + n - 2);
	return buf;
}

size_t sms_units(const char *utf8)
{
	size_t u = 0;

	for (const unsigned char *p = (const unsigned char *)utf8; *p;) {
		unsigned cp;
		int k = utf8_next(p, &cp);

		/* a byte that is no UTF-8 goes as U+FFFD (json_print_str): one unit */
		u += k > 0 && cp >= 0x10000 ? 2 : 1;
		p += k > 0 ? k : 1;
	}
	return u;
}
