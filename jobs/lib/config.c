#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "config.h"
#include "err.h"
#include "json.h"
#include "pgarray.h"
#include "validate.h"

enum cfg_type { T_STR, T_INT, T_DUR, T_BOOL, T_PATH, T_SECRET, T_URL };

struct known {
	const char *sect, *key;
	enum cfg_type type;
	const char *def;
	const char *help;
};

#define AGENCY_KEYS(a)                                                                         \
	{ a, "trust_anchor", T_PATH, "", "CA certificate(s) that must anchor the agency's signer" }, \
	{ a, "signer_subject", T_STR, "", "the agency signer's exact subject, as `openssl x509 -noout -subject -nameopt RFC2253,-esc_msb` prints it; empty: any" }, \
	{ a, "upload_url", T_URL, "", "https:// or sftp:// URL to upload request packets to" },     \
	{ a, "download_url", T_URL, "", "URL to fetch response packets from" },                     \
	{ a, "client_cert", T_PATH, "", "client certificate for upload/download" },                \
	{ a, "client_key", T_SECRET, "", "client key for upload/download" },                       \
	{ a, "ca_bundle", T_PATH, "", "CA bundle that verifies the transport server" },             \
	{ a, "ssh_known_hosts", T_PATH, "", "known_hosts file with the SFTP server's host key" },    \
	{ a, "recipient", T_STR, "", "recipient id written into request packets" },               \
	{ a, "max_records", T_INT, "1000", "records per request packet" },                         \
	{ a, "max_bytes", T_INT, "5242880", "bytes per request packet" },                          \
	{ a, "max_response_bytes", T_INT, "16777216", "largest response packet accepted" },        \
	{ a, "response_timeout", T_DUR, "5d", "re-request a check unanswered this long" },         \
	{ a, "max_attempts", T_INT, "3", "requests per check before it becomes an error" }

static const struct known known[] = {
	{ "database", "conninfo", T_STR, "", "libpq conninfo; empty: the PG* environment" },
	{ "spool", "root", T_PATH, "/var/spool/esia-batch", "spool root; folders below it" },
	{ "spool", "outbox", T_PATH, "", "request packets (default ROOT/outbox)" },
	{ "spool", "inbox", T_PATH, "", "response packets (default ROOT/inbox)" },
	{ "spool", "processed", T_PATH, "", "applied response packets (default ROOT/processed)" },
	{ "spool", "rejected", T_PATH, "", "quarantined packets (default ROOT/rejected)" },
	{ "spool", "print", T_PATH, "", "print files (default ROOT/print)" },
	{ "spool", "archive", T_PATH, "", "archives (default ROOT/archive)" },
	{ "paths", "formats", T_PATH, "", "XSD/XSLT folder (default: beside the binary, then share/)" },
	{ "log", "syslog", T_BOOL, "no", "log to syslog instead of stderr" },
	{ "metrics", "file", T_PATH, "", "Prometheus textfile-collector file; empty: none" },
	{ "signer", "key", T_SECRET, "", "the project's signing key (PEM)" },
	{ "signer", "cert", T_PATH, "", "the project's signing certificate (PEM)" },
	{ "signer", "chain", T_PATH, "", "intermediate certificates to include, if any" },
	{ "signer", "sender", T_STR, "ESIA", "sender id written into packets" },
	AGENCY_KEYS("pfr"),
	AGENCY_KEYS("fms"),
	{ "import", "workers", T_INT, "2", "import processes side by side (own connections); 1: serial" },
	{ "letters", "hmac_key", T_SECRET, "", "HMAC-SHA256 key file for activation codes" },
	{ "letters", "code_ttl", T_DUR, "60d", "activation code lifetime" },
	{ "letters", "max_attempts", T_INT, "5", "wrong code attempts before the code is blocked" },
	{ "letters", "tracking_ranges", T_STR, "", "ШПИ ranges: PREFIX8:FIRST-LAST[,...]" },
	{ "letters", "sender_name", T_STR, "Минцифры России", "sender block, first line" },
	{ "letters", "sender_address", T_STR, "", "sender block, address" },
	{ "letters", "sender_index", T_STR, "", "sender block, postal index" },
	{ "letters", "mass", T_INT, "20", "letter mass in grams" },
	{ "letters", "max_per_batch", T_INT, "5000", "letters per print batch" },
	{ "smtp", "url", T_URL, "", "smtp://host:port or smtps://host:port" },
	{ "smtp", "tls", T_STR, "starttls", "starttls, smtps or none (none: a server on this host only)" },
	{ "smtp", "ca_bundle", T_PATH, "", "CA bundle that verifies the SMTP server" },
	{ "smtp", "username", T_STR, "", "SMTP user; empty: no authentication" },
	{ "smtp", "password", T_SECRET, "", "file with the SMTP password" },
	{ "smtp", "from", T_STR, "no-reply@gosuslugi.example", "envelope and header sender" },
	{ "smtp", "rate_limit", T_INT, "1000", "e-mails per second at most" },
	{ "smtp", "message_id_domain", T_STR, "", "Message-ID domain; empty: the from address's domain" },
	{ "sms", "url", T_URL, "", "HTTPS gateway endpoint (JSON POST; http:// only on this host)" },
	{ "sms", "token", T_SECRET, "", "file with the gateway bearer token" },
	{ "sms", "ca_bundle", T_PATH, "", "CA bundle that verifies the gateway" },
	{ "sms", "rate_limit", T_INT, "50", "messages per second at most" },
	{ "notify", "max_attempts", T_INT, "8", "attempts before a notice is dead" },
	{ "notify", "backoff_base", T_DUR, "30s", "first retry delay (doubles, with jitter)" },
	{ "notify", "backoff_max", T_DUR, "6h", "longest retry delay" },
	{ "notify", "timeout", T_DUR, "30s", "network timeout per message" },
	{ "notify", "chunk", T_INT, "100", "notices claimed per transaction" },
	{ "archive", "compression", T_STR, "xz", "xz or zstd" },
	{ "archive", "older_than", T_DUR, "1d", "archive batches finished longer ago than this" },
	{ "archive", "trust_anchor", T_PATH, "", "CA certificate(s) that anchor the manifest and request-packet signer (audit)" },
	{ NULL, NULL, 0, NULL, NULL },
};

struct entry {
	const struct known *k;
	char *value; /* resolved (paths absolute) */
	int line;
};

struct config {
	char *path;   /* file read, or NULL */
	char *dir;    /* its folder, for relative paths */
	struct entry *e;
	size_t n;
	char *formats;
};

static const struct known *find_known(const char *sect, const char *key)
{
	for (const struct known *k = known; k->sect; k++)
		if (!strcmp(k->sect, sect) && !strcmp(k->key, key))
			return k;
	return NULL;
}

static int sect_known(const char *sect)
{
	for (const struct known *k = known; k->sect; k++)
		if (!strcmp(k->sect, sect))
			return 1;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int parse_int(const char *s, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno)
		return -1;
	*out = v;
	return 0;
}

int parse_duration(const char *s, long long *out)
{
	char *end;
	long long v, mul = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno || v < 0)
		return -1;
	if (*end) {
		if (end[1])
			return -1;
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		default: return -1;
		}
	}
	if (v > LLONG_MAX / mul) /* would wrap to a short or negative time */
		return -1;
	*out = v * mul;
	return 0;
}

static int check_value(const struct config *cfg, const struct known *k, const char *v, int line)
{
	long long n;
	const char *what = NULL;

	switch (k->type) {
	case T_INT:
		if (parse_int(v, &n) || n < 0)
			what = "a non-negative integer";
		break;
	case T_DUR:
		if (parse_duration(v, &n))
			what = "a duration (90, 90s, 15m, 2h, 5d)";
		break;
	case T_BOOL:
		if (strcmp(v, "yes") && strcmp(v, "no") && strcmp(v, "true") && strcmp(v, "false") &&
		    strcmp(v, "1") && strcmp(v, "0"))
			what = "yes or no";
		break;
	case T_URL:
		if (*v && !strstr(v, "://"))
			what = "a URL (scheme://...)";
		break;
	default:
		break;
	}
	if (what)
		return error("%s:%d: [%s] %s: \"%s\" is not %s", cfg->path, line, k->sect, k->key,
			     v, what);
	return 0;
}

static char *resolve_path(const struct config *cfg, const char *v)
{
	if (!*v || *v == '/' || !cfg->dir)
		return xstrdup(v);
	return xasprintf("%s/%s", cfg->dir, v);
}

static int parse_file(struct config *cfg, FILE *f)
{
	char buf[4096], sect[64] = "";
	int line = 0;

	while (fgets(buf, sizeof(buf), f)) {
		char *s, *eq, *key, *val;
		const struct known *k;

		line++;
		if (!strchr(buf, '\n') && !feof(f))
			return error("%s:%d: line too long", cfg->path, line);
		/* values reach mail headers, JSON and the database: UTF-8 only */
		if (!utf8_text(buf))
			return error("%s:%d: not UTF-8 text", cfg->path, line);
		s = trim(buf);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (!e || e[1] || e - s - 1 >= (long)sizeof(sect))
				return error("%s:%d: malformed section header", cfg->path, line);
			*e = '\0';
			snprintf(sect, sizeof(sect), "%s", trim(s + 1));
			if (!sect_known(sect))
				return error("%s:%d: unknown section [%s]", cfg->path, line, sect);
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			return error("%s:%d: expected key = value", cfg->path, line);
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		if (!*sect)
			return error("%s:%d: key \"%s\" outside any section", cfg->path, line, key);
		k = find_known(sect, key);
		if (!k)
			return error("%s:%d: unknown key \"%s\" in [%s]", cfg->path, line, key, sect);
		for (size_t i = 0; i < cfg->n; i++)
			if (cfg->e[i].k == k)
				return error("%s:%d: [%s] %s set twice (first on line %d)", cfg->path,
					     line, sect, key, cfg->e[i].line);
		if (check_value(cfg, k, val, line))
			return -1;
		cfg->e = xrealloc(cfg->e, (cfg->n + 1) * sizeof(*cfg->e));
		cfg->e[cfg->n].k = k;
		cfg->e[cfg->n].line = line;
		cfg->e[cfg->n].value = (k->type == T_PATH || k->type == T_SECRET)
					       ? resolve_path(cfg, val) : xstrdup(val);
		cfg->n++;
	}
	if (ferror(f))
		return error("%s: read error", cfg->path);
	return 0;
}

struct config *config_load(const char *path)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	const char *env = getenv("ESIA_BATCH_CONFIG");
	int explicit = 1;
	FILE *f;

	if (!path && env && *env)
		path = env;
	if (!path) {
		path = "/etc/esia-batch/esia-batch.conf";
		explicit = 0;
	}
	f = fopen(path, "r");
	if (!f) {
		if (!explicit && errno == ENOENT)
			return cfg;
		error("cannot open config \"%s\": %s", path, strerror(errno));
		free(cfg);
		return NULL;
	}
	{
		char *abs = realpath(path, NULL);
		char *slash;

		cfg->path = abs ? abs : xstrdup(path);
		cfg->dir = xstrdup(cfg->path);
		slash = strrchr(cfg->dir, '/');
		if (slash)
			*(slash == cfg->dir ? slash + 1 : slash) = '\0';
		else {
			free(cfg->dir);
			cfg->dir = NULL;
		}
	}
	if (parse_file(cfg, f)) {
		fclose(f);
		config_free(cfg);
		return NULL;
	}
	fclose(f);
	return cfg;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n; i++)
		free(cfg->e[i].value);
	free(cfg->e);
	free(cfg->path);
	free(cfg->dir);
	free(cfg->formats);
	free(cfg);
}

const char *config_path(const struct config *cfg)
{
	return cfg->path ? cfg->path : "(none: built-in defaults)";
}

static const struct entry *lookup(const struct config *cfg, const char *sect, const char *key,
				  const struct known **kp)
{
	const struct known *k = find_known(sect, key);

	if (!k) {
		/* A programming error: every key read must be in the table. */
		fprintf(stderr, "esia-batch: bug: config key [%s] %s not declared\n", sect, key);
		abort();
	}
	*kp = k;
	for (size_t i = 0; i < cfg->n; i++)
		if (cfg->e[i].k == k)
			return &cfg->e[i];
	return NULL;
}

const char *cfg_str(const struct config *cfg, const char *sect, const char *key)
{
	const struct known *k;
	const struct entry *e = lookup(cfg, sect, key, &k);

	return e ? e->value : k->def;
}

long long cfg_int(const struct config *cfg, const char *sect, const char *key)
{
	long long v = 0;

	parse_int(cfg_str(cfg, sect, key), &v);
	return v;
}

long long cfg_dur(const struct config *cfg, const char *sect, const char *key)
{
	long long v = 0;

	parse_duration(cfg_str(cfg, sect, key), &v);
	return v;
}

int cfg_bool(const struct config *cfg, const char *sect, const char *key)
{
	const char *v = cfg_str(cfg, sect, key);

	return !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1");
}

char *cfg_spool(const struct config *cfg, const char *name)
{
	const char *v = cfg_str(cfg, "spool", name);

	if (*v)
		return xstrdup(v);
	return xasprintf("%s/%s", cfg_str(cfg, "spool", "root"), name);
}

/* The one check every secret file gets: a regular file, not readable by
 * group or others, at most 1 MiB. The file open (*size: its size), or NULL
 * with why. */
static FILE *secret_open(const struct config *cfg, const char *sect, const char *key,
			 size_t *size, char *why, size_t n)
{
	const char *path = cfg_str(cfg, sect, key);
	struct stat st;
	FILE *f = NULL;
	int fd;

	if (!*path) {
		snprintf(why, n, "[%s] %s is not set in %s", sect, key, config_path(cfg));
		return NULL;
	}
	/* O_NONBLOCK: a FIFO put there must be refused below, not wait for a writer */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0 && !(f = fdopen(fd, "r")))
		close(fd);
	if (!f) {
		snprintf(why, n, "cannot open secret \"%s\" ([%s] %s): %s", path, sect, key,
			 strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode))
		snprintf(why, n, "secret \"%s\" is not a regular file", path);
	else if (st.st_mode & 077)
		snprintf(why, n, "secret \"%s\" is readable by group or others (mode %04o); chmod 600 it",
			 path, (unsigned)(st.st_mode & 07777));
	else if (st.st_size > 1 << 20)
		snprintf(why, n, "secret \"%s\" is larger than 1 MiB", path);
	else {
		*size = (size_t)st.st_size;
		return f;
	}
	fclose(f);
	return NULL;
}

char *cfg_secret(const struct config *cfg, const char *sect, const char *key, size_t *len)
{
	char why[PATH_MAX + 160], *buf;
	size_t size = 0, n;
	FILE *f = secret_open(cfg, sect, key, &size, why, sizeof why);

	if (!f) {
		error("%s", why);
		return NULL;
	}
	buf = xmalloc(size + 1);
	n = fread(buf, 1, size, f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

int cfg_secret_check(const struct config *cfg, const char *sect, const char *key, char *why,
		     size_t n)
{
	size_t size;
	FILE *f = secret_open(cfg, sect, key, &size, why, n);

	if (!f)
		return -1;
	fclose(f);
	return 0;
}

const char *cfg_formats_dir(const struct config *cfg)
{
	const char *v = cfg_str(cfg, "paths", "formats");
	char exe[PATH_MAX];
	ssize_t n;

	if (*v)
		return v;
	if (cfg->formats)
		return cfg->formats;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash, *cand;
		struct stat st;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		*slash = '\0';
		/* installed: PREFIX/bin/esia-batch with PREFIX/share/esia-batch/formats */
		cand = xasprintf("%s/../share/esia-batch/formats", exe);
		if (!stat(cand, &st) && S_ISDIR(st.st_mode)) {
			((struct config *)cfg)->formats = cand;
			return cand;
		}
		free(cand);
		/* in-tree binaries live at the top or under build/asan/ */
		for (int up = 0; up < 3; up++) {
			cand = xasprintf("%s/formats", exe);
			if (!stat(cand, &st) && S_ISDIR(st.st_mode)) {
				((struct config *)cfg)->formats = cand;
				return cand;
			}
			free(cand);
			slash = strrchr(exe, '/');
			if (!slash || slash == exe)
				break;
			*slash = '\0';
		}
	}
	((struct config *)cfg)->formats = xstrdup(ESIA_DATADIR "/formats");
	return cfg->formats;
}

/* conninfo with password=... replaced, for display. */
/* conninfo for display: parsed the way libpq parses it (quotes, escapes,
 * URIs), every value shown but the password. Unparsable: nothing shown. */
static char *mask_conninfo(const char *ci)
{
	PQconninfoOption *opts = PQconninfoParse(ci, NULL);
	struct sbuf b = { 0 };

	if (!opts)
		return xstrdup(*ci ? "(not a valid conninfo; not shown)" : "");
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (b.len)
			sb_str(&b, " ");
		sb_str(&b, o->keyword);
		if (!strcmp(o->keyword, "password")) {
			sb_str(&b, "=********");
			continue;
		}
		sb_str(&b, "='");
		for (const char *c = o->val; *c; c++) {
			if (*c == '\'' || *c == '\\')
				sb_add(&b, "\\", 1);
			sb_add(&b, c, 1);
		}
		sb_str(&b, "'");
	}
	PQconninfoFree(opts);
	return b.s ? b.s : xstrdup("");
}

int config_check_secrets(const struct config *cfg)
{
	int ret = 0;

	for (size_t i = 0; i < cfg->n; i++) {
		const struct entry *e = &cfg->e[i];
		char why[PATH_MAX + 160];

		if (e->k->type != T_SECRET || !*e->value)
			continue;
		if (cfg_secret_check(cfg, e->k->sect, e->k->key, why, sizeof why))
			ret = error("%s:%d: [%s] %s: %s", cfg->path, e->line, e->k->sect, e->k->key,
				    why);
	}
	return ret;
}

void config_describe(void)
{
	static const char *const tname[] = { "text", "integer", "duration", "yes/no", "path",
					     "secret file", "URL" };

	printf("| section | key | type | default | meaning |\n|---|---|---|---|---|\n");
	for (const struct known *k = known; k->sect; k++)
		printf("| [%s] | %s | %s | %s | %s |\n", k->sect, k->key, tname[k->type],
		       *k->def ? k->def : "", k->help);
}

void config_print(const struct config *cfg, int json)
{
	const char *prev = "";

	if (json) {
		printf("{\"file\":");
		json_print_str(stdout, cfg->path ? cfg->path : "");
		printf(",\"settings\":{");
	} else {
		printf("# configuration: %s\n", config_path(cfg));
	}
	for (const struct known *k = known; k->sect; k++) {
		const char *v = cfg_str(cfg, k->sect, k->key);
		char *shown;

		if (!strcmp(k->sect, "paths") && !strcmp(k->key, "formats"))
			v = cfg_formats_dir(cfg); /* show where it was found */
		shown = !strcmp(k->key, "conninfo") ? mask_conninfo(v) : xstrdup(v);
		const struct known *kk;
		int set = lookup(cfg, k->sect, k->key, &kk) != NULL;

		if (json) {
			printf("%s\"%s.%s\":", k == known ? "" : ",", k->sect, k->key);
			json_print_str(stdout, shown);
		} else {
			if (strcmp(prev, k->sect))
				printf("%s[%s]\n", k == known ? "" : "\n", k->sect);
			printf("%s = %s%s%s\n", k->key, shown,
			       k->type == T_SECRET && *v ? "   # secret file, contents not shown" : "",
			       set ? "" : (*v ? "   # default" : ""));
		}
		prev = k->sect;
		free(shown);
	}
	printf(json ? "}}\n" : "");
}
