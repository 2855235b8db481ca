#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <string.h>

#include "curlx.h"
#include "err.h"
#include "log.h"

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
	/* straight to the server: a proxy from the environment (http_proxy,
	 * all_proxy...) would see plain-text traffic to this host, and could
	 * answer for the server */
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (ca && *ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	return h;
}

void curlx_why(char *why, size_t n, const char *errbuf, CURLcode e)
{
	snprintf(why, n, "%s", *errbuf ? errbuf : curl_easy_strerror(e));
	clean_text(why);
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

/* host (as libcurl's URL parser gives it: IPv6 in brackets) names this
 * machine. Only "localhost" goes by name (libcurl resolves it to loopback
 * itself); anything else must be an address literal, so a DNS name such as
 * "127.mail.example" can never pass for one. */
static int host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);

	if (!strcasecmp(host, "localhost"))
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n > 2 && n < sizeof buf && host[0] == '[' && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int curlx_loopback(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL;
	int yes = 0;

	if (u && !curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) &&
	    !curl_url_get(u, CURLUPART_HOST, &host, 0))
		yes = host_is_loopback(host);
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
