/* import-responses, shared by its files: import_responses.c (the command,
 * the inbox, quarantine, workers), import_read.c (reading and believing a
 * packet) and import_apply.c (applying it in one transaction). */
#ifndef ESIA_IMPORT_H
#define ESIA_IMPORT_H

#include <stddef.h>

#include <libpq-fe.h>
#include <libxml/tree.h>

#include "err.h"
#include "ledger.h"

struct ctx;
struct config;

struct agency {
	const char *name, *org, *ns, *root, *xsd;
};

#define N_AGENCIES 2
extern const struct agency import_agencies[N_AGENCIES];
const struct agency *agency_named(const char *name);

/* One file to import and the agency its folder (or --agency) says it is from. */
struct work {
	char *path;
	const struct agency *ag; /* NULL: take it from the packet, the signer must agree */
};

struct run {
	struct ctx *ctx;
	struct config *cfg;
	PGconn *c;
	struct batch b;
	char batch_id[24];
	long long applied, duplicates, passed, failed, stale, promoted;
	char *copybuf;
	size_t copylen, copycap;
	int workers_down; /* a worker stopped because the database went away */
};

/* What a verified packet says. */
struct packet {
	const struct agency *ag;
	char id[40], reply_to[40];
	char sha256[65];
	long long bytes, count, results;
	char *name;
};

/* A refusal: a one-line "what" plus details for the .reason file. */
struct why {
	char what[640];
	char detail[1024];
};

/* Say why a packet is refused; returns 1 (refused). */
int PRINTF_LIKE(2, 3) refuse(struct why *w, const char *fmt, ...);

/* Read and believe one file (every check before any field is used); its
 * results go to r's COPY buffer. 0, 1 refused (w), -1 error. *docp is the
 * parsed document for the caller to free. */
int import_verify(struct run *r, const struct work *wk, struct packet *pk, xmlDocPtr *docp,
		  struct why *w);

/* The database part of one verified packet, in one transaction. 0 applied or
 * duplicate (*dup set), 1 refused (w; also a data error, SQLSTATE class 22,
 * from its values), -1 error (rolled back). */
int import_record(struct run *r, struct packet *pk, int *dup, struct why *w);

#endif
