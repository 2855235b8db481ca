/* INI configuration: [section] key = value. Every key the program knows is in
 * the table in config.c with its type and default; anything else is an error
 * naming file and line. Path values are resolved against the file's folder. */
#ifndef ESIA_CONFIG_H
#define ESIA_CONFIG_H

#include <stddef.h>

struct config;

/* Find (--config, $ESIA_BATCH_CONFIG, /etc/...) and load. path may be NULL.
 * Returns NULL after printing the error. A missing default file is not an
 * error: an empty configuration (defaults, PG* environment) is used. */
struct config *config_load(const char *path);
void config_free(struct config *cfg);
const char *config_path(const struct config *cfg);

/* Effective value (file or default); "" when unset with no default. */
const char *cfg_str(const struct config *cfg, const char *sect, const char *key);
long long cfg_int(const struct config *cfg, const char *sect, const char *key);
/* Durations accept 90, 90s, 15m, 2h, 5d; result in seconds. */
long long cfg_dur(const struct config *cfg, const char *sect, const char *key);
int cfg_bool(const struct config *cfg, const char *sect, const char *key);
/* A spool folder: [spool] NAME, or [spool] root/NAME. Caller frees. */
char *cfg_spool(const struct config *cfg, const char *name);
/* Read a secret file named by a key; refuses files readable by group or
 * others. Returns a malloc'd string without trailing newline, or NULL. */
char *cfg_secret(const struct config *cfg, const char *sect, const char *key, size_t *len);
/* The same checks without reading the file, for a secret that a library
 * opens by name (the SFTP client key). 0, or -1 with a one-line reason in
 * why (nothing printed). */
int cfg_secret_check(const struct config *cfg, const char *sect, const char *key, char *why,
		     size_t n);
/* Folder with XSD/XSLT: [paths] formats, else next to the binary, else DATADIR. */
const char *cfg_formats_dir(const struct config *cfg);

/* Print every known key with its effective value; secrets' contents are never
 * read, passwords in conninfo are masked. */
void config_print(const struct config *cfg, int json);
/* Check that every configured secret file exists and is private, without
 * reading it; -1 after naming each offender with file and line. */
int config_check_secrets(const struct config *cfg);
/* Every known key with type, default and meaning, as a markdown table. */
void config_describe(void);

/* Parsing helpers shared with the command line. */
int parse_duration(const char *s, long long *out);
int parse_int(const char *s, long long *out);

#endif
