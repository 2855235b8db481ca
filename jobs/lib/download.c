/* libcurl downloads of response packets (see download.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "atomic.h"
#include "config.h"
#include "curlx.h"
#include "download.h"
#include "err.h"
#include "log.h"

#define LISTING_MAX (1024 * 1024)
#define NAME_MAX_LEN 128

struct dl {
	const struct config *cfg;
	const char *agency, *base, *cert, *ca;
	char *key;
	size_t keylen;
	char *inbox, *processed, *rejected;
};

/* A response body: into memory (listing) or into a file, with a cap. */
struct sink {
	char *buf;
	size_t len;
	FILE *fp;
	long long got, max;
	int over;
};

static size_t sink_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (s->got + (long long)n > s->max) {
		s->over = 1;
		return 0; /* aborts the transfer */
	}
	s->got += n;
	if (s->fp)
		return fwrite(p, 1, n, s->fp);
	s->buf = xrealloc(s->buf, s->len + n + 1);
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

/* One request: DOWNLOAD_OK with *status set, or TRANSIENT/REFUSED with why. */
static int request(struct dl *d, const char *url, const char *method, struct sink *s,
		   long *status, char *why, size_t n)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_blob blob = { d->key, d->keylen, CURL_BLOB_NOCOPY };
	CURL *h = curlx_new(url, "https", 120L, d->ca, errbuf);
	CURLcode e;
	int ret = DOWNLOAD_REFUSED;

	*status = 0;
	if (!h) {
		snprintf(why, n, "cannot initialise libcurl");
		return DOWNLOAD_REFUSED;
	}
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (*d->ca) /* the configured bundle only, not the system's folder too */
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	if (*d->cert)
		curl_easy_setopt(h, CURLOPT_SSLCERT, d->cert);
	if (d->key)
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob);
	if (method)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max);
	e = curl_easy_perform(h);
	if (e == CURLE_FILESIZE_EXCEEDED || (e == CURLE_WRITE_ERROR && s->over)) {
		s->over = 1;
		snprintf(why, n, "larger than %lld bytes", s->max);
		goto out;
	}
	if (e != CURLE_OK) {
		curlx_why(why, n, errbuf, e);
		ret = curlx_transient(e) ? DOWNLOAD_TRANSIENT : DOWNLOAD_REFUSED;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (*status >= 500 || *status == 408 || *status == 429) {
		snprintf(why, n, "server answered HTTP %ld", *status);
		ret = DOWNLOAD_TRANSIENT;
		goto out;
	}
	ret = DOWNLOAD_OK;
out:
	curl_easy_cleanup(h);
	return ret;
}

/* ^[A-Za-z0-9._-]{1,128}$, not starting with '.' */
static int good_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > NAME_MAX_LEN || s[0] == '.')
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* 1 when dir/name exists; with same, 1 only when it holds the same bytes. */
static int present_in(const char *dir, const char *name, const char *same)
{
	char *p = xasprintf("%s/%s", dir, name);
	int there = access(p, F_OK) == 0 && (!same || same_bytes(same, p));

	free(p);
	return there;
}

static int kept(const struct dl *d, const char *name, const char *same)
{
	return present_in(d->inbox, name, same) || present_in(d->processed, name, same) ||
	       present_in(d->rejected, name, same);
}

/* DELETE NAME on the server; a failure is a warning (offered again next time,
 * then recognised as present). */
static void forget(struct dl *d, const char *url, const char *name)
{
	struct sink s = { .max = 65536 };
	char why[CURL_ERROR_SIZE + 64] = "", q[CURL_ERROR_SIZE + 80], qn[LOG_QUOTE_NAME];
	long status;
	int st = request(d, url, "DELETE", &s, &status, why, sizeof(why));

	if (st == DOWNLOAD_OK && ((status >= 200 && status < 300) || status == 404))
		goto out;
	if (st == DOWNLOAD_OK)
		snprintf(why, sizeof(why), "server answered HTTP %ld", status);
	log_event(LOG_LVL_WARN, "download.delete_failed", "agency=%s file=%s why=%s", d->agency,
		  log_quote(name, qn, sizeof(qn)), log_quote(why, q, sizeof(q)));
out:
	free(s.buf);
}

/* Fetch one file into the inbox. DOWNLOAD_OK (*fetched: 1 fetched, 2 the
 * same bytes already kept, 0 skipped with a warning) or
 * DOWNLOAD_TRANSIENT/REFUSED for the run. */
static int fetch(struct dl *d, const char *name, int *fetched)
{
	char *url = xasprintf("%s%s", d->base, name);
	char *path = xasprintf("%s/%s", d->inbox, name);
	struct atomic_file af = { 0 };
	struct sink s = { .max = cfg_int(d->cfg, d->agency, "max_response_bytes") };
	char why[CURL_ERROR_SIZE + 64] = "", qn[LOG_QUOTE_NAME], qk[LOG_QUOTE_NAME];
	long status;
	int st, ret = DOWNLOAD_REFUSED;

	*fetched = 0;
	if (atomic_open(&af, path, 0600))
		goto out;
	s.fp = af.fp;
	st = request(d, url, NULL, &s, &status, why, sizeof(why));
	if (st == DOWNLOAD_OK && s.over)
		st = DOWNLOAD_REFUSED;
	if (s.over) {
		atomic_abort(&af);
		log_event(LOG_LVL_WARN, "download.oversize", "agency=%s file=%s limit=%lld", d->agency,
			  log_quote(name, qn, sizeof(qn)), s.max);
		warning("[%s] %s%s refused: %s", d->agency, d->base, name, why);
		ret = DOWNLOAD_OK;
		goto out;
	}
	if (st != DOWNLOAD_OK) {
		atomic_abort(&af);
		error("[%s] cannot download %s%s: %s", d->agency, d->base, name, why);
		ret = st;
		goto out;
	}
	if (status < 200 || status >= 300) {
		atomic_abort(&af);
		warning("[%s] %s%s skipped: server answered HTTP %ld", d->agency, d->base, name,
			status);
		ret = DOWNLOAD_OK;
		goto out;
	}
	if (kept(d, name, NULL)) {
		/* A name already kept here: the same bytes (fetched before a
		 * crash cut the DELETE short) are dropped; a different packet
		 * under a reused name is kept beside the other, never lost. */
		if (fflush(af.fp)) {
			error("cannot write \"%s\": %s", af.tmp, strerror(errno));
			atomic_abort(&af);
			goto out;
		}
		if (kept(d, name, af.tmp)) {
			atomic_abort(&af);
			log_event(LOG_LVL_INFO, "download.present", "agency=%s file=%s", d->agency,
				  log_quote(name, qn, sizeof(qn)));
			*fetched = 2;
			forget(d, url, name);
			ret = DOWNLOAD_OK;
			goto out;
		}
		{
			char *to = free_name(d->inbox, name, af.tmp, NULL);

			if (!to) {
				atomic_abort(&af);
				goto out;
			}
			free(af.path);
			af.path = to;
		}
		log_event(LOG_LVL_WARN, "download.name_reused", "agency=%s file=%s kept_as=%s", d->agency,
			  log_quote(name, qn, sizeof(qn)), log_quote(strrchr(af.path, '/') + 1, qk, sizeof(qk)));
	}
	if (atomic_commit(&af))
		goto out;
	log_event(LOG_LVL_INFO, "download.file", "agency=%s file=%s bytes=%lld", d->agency,
		  log_quote(name, qn, sizeof(qn)), s.got);
	*fetched = 1;
	forget(d, url, name);
	ret = DOWNLOAD_OK;
out:
	free(url);
	free(path);
	return ret;
}

int download_agency(const struct config *cfg, const char *agency, struct download_stats *stats)
{
	struct dl d = { .cfg = cfg, .agency = agency };
	struct sink s = { .max = LISTING_MAX };
	char why[CURL_ERROR_SIZE + 64] = "", *line, *next, *spool;
	long status;
	int st, ret = DOWNLOAD_REFUSED;

	d.base = cfg_str(cfg, agency, "download_url");
	d.cert = cfg_str(cfg, agency, "client_cert");
	d.ca = cfg_str(cfg, agency, "ca_bundle");
	if (strncmp(d.base, "https://", 8) || d.base[strlen(d.base) - 1] != '/') {
		error("[%s] download_url must be an https:// URL ending with '/'", agency);
		return DOWNLOAD_REFUSED;
	}
	if (*cfg_str(cfg, agency, "client_key")) {
		d.key = cfg_secret(cfg, agency, "client_key", &d.keylen);
		if (!d.key) {
			error("cannot read [%s] client_key", agency);
			return DOWNLOAD_REFUSED;
		}
	}
	spool = cfg_spool(cfg, "inbox");
	d.inbox = xasprintf("%s/%s", spool, agency);
	free(spool);
	spool = cfg_spool(cfg, "processed");
	d.processed = xasprintf("%s/%s", spool, agency);
	free(spool);
	spool = cfg_spool(cfg, "rejected");
	d.rejected = xasprintf("%s/%s", spool, agency);
	free(spool);
	if (mkdir_p(d.inbox, 0700))
		goto out;

	st = request(&d, d.base, NULL, &s, &status, why, sizeof(why));
	if (st == DOWNLOAD_OK && s.over)
		st = DOWNLOAD_REFUSED;
	if (st == DOWNLOAD_OK && (status < 200 || status >= 300)) {
		snprintf(why, sizeof(why), "server answered HTTP %ld", status);
		st = DOWNLOAD_REFUSED;
	}
	if (st != DOWNLOAD_OK) {
		error("[%s] cannot list %s: %s", agency, d.base, why);
		ret = st;
		goto out;
	}
	for (line = s.buf; line && *line; line = next) {
		size_t len = strcspn(line, "\n");
		char q[160];
		int fetched;

		next = line[len] ? line + len + 1 : line + len;
		line[len] = '\0';
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (!len)
			continue;
		if (!good_name(line)) {
			log_event(LOG_LVL_WARN, "download.bad_name", "agency=%s name=%s", agency,
				  log_quote(line, q, sizeof(q)));
			stats->skipped++;
			continue;
		}
		st = fetch(&d, line, &fetched);
		if (st != DOWNLOAD_OK) {
			ret = st;
			goto out;
		}
		if (fetched == 1)
			stats->fetched++;
		else if (fetched == 2)
			stats->present++;
		else
			stats->skipped++;
	}
	log_event(LOG_LVL_INFO, "download.done", "agency=%s fetched=%lld present=%lld skipped=%lld",
		  agency, stats->fetched, stats->present, stats->skipped);
	ret = DOWNLOAD_OK;
out:
	if (d.key) {
		OPENSSL_cleanse(d.key, d.keylen);
		free(d.key);
	}
	free(s.buf);
	free(d.inbox);
	free(d.processed);
	free(d.rejected);
	return ret;
}
