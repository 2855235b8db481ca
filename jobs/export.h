/* export-checks, shared by its files: export_checks.c (the command, each
 * agency's run: sweep, timeouts, upload) and export_packet.c (one packet:
 * claim, validate, write, sign, record). */
#ifndef ESIA_EXPORT_H
#define ESIA_EXPORT_H

#include <libpq-fe.h>
#include <libxml/tree.h>

#include "ledger.h"
#include "pgarray.h"

struct ctx;
struct config;
struct signer;

struct agency {
	const char *name; /* "pfr" */
	const char *ns, *root, *xsd;
	const char *recipient_default;
};

#define N_AGENCIES 2
extern const struct agency export_agencies[N_AGENCIES];

/* State of one agency's run. */
struct run {
	struct ctx *ctx;
	const struct config *cfg;
	const struct agency *ag;
	PGconn *c;
	struct batch b;
	const struct signer *signer;
	char *outdir;
	long long max_records, max_bytes, limit; /* limit 0 = none */
	long sig_bytes; /* what framing and signing add to the records (packet_frame_bytes) */
	long long claimed;                       /* checks taken this run (for --limit) */
	long long packets, sent, refused, superseded, timed_out, requeued, uploaded, upload_failed;
	long long orphans;
	long long upload_waiting; /* not tried this run: the server was down */
	int upload_down;          /* a transient failure: no more uploads this run */
	int lost_claims;    /* packets dropped in a row because their checks moved */
	long long after_id; /* claim checks with ids above this (keyset over the queue) */
	long long last_id;  /* highest id this packet consumed */
	char upload_error[256];
	xmlBufferPtr xbuf; /* the text writer's output (the records), reused per packet */
	struct sbuf head;  /* the packet's canonical root start tag */
	struct sbuf sent_ids, sent_versions, stale_ids;
	/* refused checks not yet recorded, over packets (flush_refusals) */
	struct sbuf bad_ids, bad_reasons;
	long long nbad;
	struct sbuf done_ids; /* every queue row the packet consumed (ctids) */
};

/* One packet in one transaction. Returns 1 if it did something (more may be
 * waiting), 0 when nothing was pending, -1 on error. */
int one_packet(struct run *r);
/* Record the refused checks gathered so far in a transaction of their own:
 * failed with the reason, the citizen's data rejected, the notice queued,
 * off the queue. Until then they stay pending and queued, so a run that
 * dies first leaves them to the next. 0, or -1 after printing an error. */
int flush_refusals(struct run *r);
/* Bytes a packet file has besides its records, at most. */
long packet_frame_bytes(struct run *r);

#endif
