/* libcurl uploads of request packets (see upload.h). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "curlx.h"
#include "upload.h"

#define UPLOAD_TRIES 3
#define UPLOAD_BACKOFF_MS 300


static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* One attempt: UPLOAD_OK, UPLOAD_TRANSIENT or UPLOAD_REFUSED. */
static int put_once(const struct config *cfg, const char *agency, const char *url,
		    const char *path, const char *key, size_t keylen, char *why, size_t n)
{
	const char *cert = cfg_str(cfg, agency, "client_cert");
	const char *ca = cfg_str(cfg, agency, "ca_bundle");
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_blob blob = { (void *)key, keylen, CURL_BLOB_NOCOPY };
	struct stat st;
	long status = 0;
	FILE *f = NULL;
	CURL *h = NULL;
	CURLcode e;
	int ret = UPLOAD_REFUSED;

	f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &st) < 0) {
		snprintf(why, n, "cannot open '%s': %m", path);
		goto out;
	}
	h = curlx_new(url, "https,sftp", 120L, ca, errbuf);
	if (!h) {
		snprintf(why, n, "cannot initialise libcurl");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READDATA, f);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (*ca) /* the configured bundle only, not the system's folder too */
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	if (!strncmp(url, "sftp://", 7)) {
		if (*cfg_str(cfg, agency, "client_key"))
			curl_easy_setopt(h, CURLOPT_SSH_PRIVATE_KEYFILE,
					 cfg_str(cfg, agency, "client_key"));
	} else {
		if (*cert)
			curl_easy_setopt(h, CURLOPT_SSLCERT, cert);
		if (key)
			curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob);
	}
	e = curl_easy_perform(h);
	if (e != CURLE_OK) {
		snprintf(why, n, "%s", *errbuf ? errbuf : curl_easy_strerror(e));
		ret = curlx_transient(e) ? UPLOAD_TRANSIENT : UPLOAD_REFUSED;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (!strncmp(url, "sftp://", 7) || (status >= 200 && status < 300)) {
		ret = UPLOAD_OK;
		goto out;
	}
	snprintf(why, n, "server answered HTTP %ld", status);
	ret = status >= 500 || status == 408 || status == 429 ? UPLOAD_TRANSIENT : UPLOAD_REFUSED;
out:
	if (h)
		curl_easy_cleanup(h);
	if (f)
		fclose(f);
	return ret;
}

int upload_file(const struct config *cfg, const char *agency, const char *path, const char *name,
		char *why, size_t n)
{
	const char *base = cfg_str(cfg, agency, "upload_url");
	char *url = NULL, *key = NULL;
	size_t keylen = 0;
	long backoff = UPLOAD_BACKOFF_MS;
	int ret = UPLOAD_REFUSED;

	if (!*base) {
		snprintf(why, n, "no [%s] upload_url", agency);
		return UPLOAD_REFUSED;
	}
	if (strncmp(base, "sftp://", 7) && *cfg_str(cfg, agency, "client_key")) {
		key = cfg_secret(cfg, agency, "client_key", &keylen);
		if (!key) {
			snprintf(why, n, "cannot read [%s] client_key", agency);
			return UPLOAD_REFUSED;
		}
	}
	url = base[strlen(base) - 1] == '/' ? xasprintf("%s%s", base, name) : xstrdup(base);
	for (int i = 1; i <= UPLOAD_TRIES; i++) {
		ret = put_once(cfg, agency, url, path, key, keylen, why, n);
		if (ret != UPLOAD_TRANSIENT || i == UPLOAD_TRIES)
			break;
		log_event(LOG_LVL_WARN, "upload.retry", "agency=%s file=%s try=%d", agency, name, i);
		nap_ms(backoff);
		backoff *= 2;
	}
	if (key) {
		OPENSSL_cleanse(key, keylen);
		free(key);
	}
	free(url);
	return ret;
}

void upload_shutdown(void)
{
	curlx_cleanup();
}
