/* libcurl uploads of request packets (see upload.h). */
#include <limits.h>
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

/* SFTP: the server's host key must be in [AGENCY] ssh_known_hosts; anything
 * else (unknown host, changed key) is refused, never added. */
static int known_host_only(CURL *h, const struct curl_khkey *known, const struct curl_khkey *found,
			   enum curl_khmatch match, void *arg)
{
	(void)h, (void)known, (void)found, (void)arg;
	return match == CURLKHMATCH_OK ? CURLKHSTAT_FINE : CURLKHSTAT_REJECT;
}

/* SFTP writes in place, so the agency could pick up half a packet: the file
 * goes up as .NAME.part and is renamed once complete (a copy left by an
 * earlier try of the same packet is replaced). Sets *tmp_url and *cmds;
 * 0, or -1 with why. */
static int sftp_publish(const char *url, char **tmp_url, struct curl_slist **cmds, char *why,
			size_t n)
{
	CURLU *u = curl_url();
	char *path = NULL, *rpath, *slash, *tmp = NULL, *cmd;
	int ret = -1;

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) ||
	    curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE)) {
		snprintf(why, n, "cannot parse the upload URL");
		goto out;
	}
	/* "/~/dir/x" is x below the login directory, as libcurl reads it */
	rpath = !strncmp(path, "/~/", 3) ? path + 3 : path;
	if (strpbrk(rpath, "\"\\\r\n") || !(slash = strrchr(url, '/')) || !slash[1]) {
		snprintf(why, n, "the upload URL's path cannot be used for SFTP");
		goto out;
	}
	*tmp_url = xasprintf("%.*s.%s.part", (int)(slash - url + 1), url, slash + 1);
	slash = strrchr(rpath, '/');
	tmp = slash ? xasprintf("%.*s.%s.part", (int)(slash - rpath + 1), rpath, slash + 1)
		    : xasprintf(".%s.part", rpath);
	cmd = xasprintf("*rm \"%s\"", rpath);
	*cmds = curl_slist_append(NULL, cmd);
	free(cmd);
	cmd = xasprintf("rename \"%s\" \"%s\"", tmp, rpath);
	*cmds = curl_slist_append(*cmds, cmd);
	free(cmd);
	ret = 0;
out:
	free(tmp);
	curl_free(path);
	curl_url_cleanup(u);
	return ret;
}

/* One attempt: UPLOAD_OK, UPLOAD_TRANSIENT or UPLOAD_REFUSED. */
static int put_once(const struct config *cfg, const char *agency, const char *url,
		    const char *path, const char *key, size_t keylen, char *why, size_t n)
{
	const char *cert = cfg_str(cfg, agency, "client_cert");
	const char *ca = cfg_str(cfg, agency, "ca_bundle");
	int sftp = !strncmp(url, "sftp://", 7);
	char errbuf[CURL_ERROR_SIZE] = "", *tmp_url = NULL;
	struct curl_blob blob = { (void *)key, keylen, CURL_BLOB_NOCOPY };
	struct curl_slist *cmds = NULL;
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
	if (sftp && sftp_publish(url, &tmp_url, &cmds, why, n))
		goto out;
	h = curlx_new(sftp ? tmp_url : url, "https,sftp", 120L, ca, errbuf);
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
	if (sftp) {
		curl_easy_setopt(h, CURLOPT_SSH_KNOWNHOSTS, cfg_str(cfg, agency, "ssh_known_hosts"));
		curl_easy_setopt(h, CURLOPT_SSH_KEYFUNCTION, known_host_only);
		curl_easy_setopt(h, CURLOPT_SSH_AUTH_TYPES, (long)CURLSSH_AUTH_PUBLICKEY);
		curl_easy_setopt(h, CURLOPT_POSTQUOTE, cmds);
		/* a packet holds personal data, on their server as on ours */
		curl_easy_setopt(h, CURLOPT_NEW_FILE_PERMS, 0600L);
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
		curlx_why(why, n, errbuf, e);
		ret = curlx_transient(e) ? UPLOAD_TRANSIENT : UPLOAD_REFUSED;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (sftp || (status >= 200 && status < 300)) {
		ret = UPLOAD_OK;
		goto out;
	}
	snprintf(why, n, "server answered HTTP %ld", status);
	ret = status >= 500 || status == 408 || status == 429 ? UPLOAD_TRANSIENT : UPLOAD_REFUSED;
out:
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(cmds);
	free(tmp_url);
	if (f)
		fclose(f);
	return ret;
}

int upload_file(const struct config *cfg, const char *agency, const char *path, const char *name,
		char *why, size_t n)
{
	const char *base = cfg_str(cfg, agency, "upload_url");
	char *url = NULL, *key = NULL, bad[PATH_MAX + 160];
	size_t keylen = 0;
	long backoff = UPLOAD_BACKOFF_MS;
	int ret = UPLOAD_REFUSED;

	if (!*base) {
		snprintf(why, n, "no [%s] upload_url", agency);
		return UPLOAD_REFUSED;
	}
	if (!strncmp(base, "sftp://", 7) && !*cfg_str(cfg, agency, "ssh_known_hosts")) {
		snprintf(why, n, "no [%s] ssh_known_hosts: the SFTP server could not be authenticated",
			 agency);
		return UPLOAD_REFUSED;
	}
	/* libcurl reads the SFTP key by name: it gets the secrets' check here,
	 * before any connection, as the HTTPS key does in cfg_secret() */
	if (!strncmp(base, "sftp://", 7) && *cfg_str(cfg, agency, "client_key") &&
	    cfg_secret_check(cfg, agency, "client_key", bad, sizeof bad)) {
		snprintf(why, n, "[%s] client_key: %s", agency, bad);
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
