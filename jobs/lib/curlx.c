#include <strings.h>
#include <string.h>

#include "curlx.h"
#include "err.h"

static int ready;

CURL *curlx_new(const char *url, const char *protocols, long timeout, const char *ca,
		char *errbuf)
{
	CURL *h;

	if (!ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
			error("cannot initialise libcurl");
			return NULL;
		}
		ready = 1;
	}
	h = curl_easy_init();
	if (!h) {
		error("cannot create a libcurl handle");
		return NULL;
	}
	if (timeout <= 0)
		timeout = 30;
	errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout < 10 ? timeout : 10L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (ca && *ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	return h;
}

int curlx_transient(CURLcode e)
{
	switch (e) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

int curlx_loopback(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL;
	int yes = 0;

	if (u && !curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) &&
	    !curl_url_get(u, CURLUPART_HOST, &host, 0))
		yes = !strcasecmp(host, "localhost") || !strncmp(host, "127.", 4) ||
		      !strcmp(host, "[::1]") || !strcmp(host, "::1");
	curl_free(host);
	curl_url_cleanup(u);
	return yes;
}

void curlx_cleanup(void)
{
	if (ready)
		curl_global_cleanup();
	ready = 0;
}
