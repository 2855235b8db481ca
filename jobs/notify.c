/* esia-batch notify: deliver the notification outbox.
 *
 * Pipeline per channel (e-mail, then SMS), in chunks: claim due rows with
 * FOR UPDATE SKIP LOCKED → render the Russian text with formats/notify-EVENT-
 * CHANNEL.xsl → send (SMTP over one reused libcurl connection, or a JSON POST
 * to the SMS gateway) → record every outcome of the chunk in one UPDATE and
 * commit. A crash between sending and the commit leaves the rows pending, so
 * they are sent again with the same Message-ID: at least once, never lost. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/tree.h>

#include "db.h"
#include "esia-batch.h"
#include "fault.h"
#include "ledger.h"
#include "pgarray.h"
#include "log.h"
#include "mail.h"
#include "progress.h"
#include "sms.h"
#include "smtp.h"
#include "xslt.h"

static const char usage[] = "esia-batch notify [--channel email|sms] [--limit N] [--expiring-days N]";

static const char help[] =
	"usage: esia-batch notify [--channel email|sms] [--limit N] [--expiring-days N]\n"
	"\n"
	"Send the due notifications of the outbox (check passed or failed, letter\n"
	"sent, account confirmed, code expiring): e-mail over SMTP ([smtp]) and SMS\n"
	"through the HTTP gateway ([sms]), with texts from formats/notify-*.xsl.\n"
	"A notice is sent at least once; a resend carries the same Message-ID.\n"
	"Transient failures are retried with exponential backoff and jitter\n"
	"([notify] backoff_base, backoff_max); after [notify] max_attempts, or at\n"
	"once on a permanent refusal (SMTP 5xx, gateway 4xx), a notice is dead with\n"
	"its reason. At most [smtp]/[sms] rate_limit messages per second.\n"
	"Rerunning a notify batch (esia-batch rerun ID) sends its dead notices again.\n"
	"\n"
	"  --channel C   only e-mail or only sms (default: both)\n"
	"  --limit N     at most N notices per channel in this run\n"
	"  --expiring-days N\n"
	"                first enqueue code_expiring for live activation codes that\n"
	"                expire within N days (once per code)\n"
	"\n"
	"Exit: 0 done or nothing due, 1 failed, 2 usage, 65 some notices dead\n"
	"(refused), 75 another run holds the lock, or the SMTP server, the SMS\n"
	"gateway or the database is unreachable (notices stay pending; an outage\n"
	"is not counted as an attempt).\n";

/* Columns of the claim query. */
enum { C_ID, C_EVENT, C_EMAIL, C_PHONE, C_FAMILY, C_FIRST, C_PATRONYMIC, C_REASON, C_TRACKING,
       C_VALID_UNTIL };

/* valid_until is the code's last valid day, as the letter prints it.
 * Notices queued by older versions carry 'expires', the day after. */
static const char claim_sql[] =
	"SELECT n.id, n.event, a.email, a.phone, a.family_name, a.first_name, a.patronymic,"
	" n.payload->>'reason', n.payload->>'tracking',"
	" coalesce(n.payload->>'valid_until', CASE WHEN n.payload->>'expires' ~ '^\\d{4}-\\d\\d-\\d\\d$'"
	"  THEN to_char((n.payload->>'expires')::date - 1, 'YYYY-MM-DD') END)"
	" FROM notifications n JOIN accounts a ON a.id = n.account_id"
	" WHERE n.status = 'pending' AND n.next_attempt_at <= now() AND n.channel = $1"
	" ORDER BY n.next_attempt_at, n.id LIMIT $2::int"
	" FOR UPDATE OF n SKIP LOCKED";

/* One UPDATE per chunk. Outcomes: sent; dead (permanent); retry (transient:
 * backoff, dead at max_attempts); down (server unreachable, or not tried
 * because it was: backoff, and not an attempt, so an outage longer than
 * max_attempts backoffs does not kill notices). The batch that settles a
 * notice (sent or dead) is recorded in sent_batch_id, so `rerun` finds a
 * batch's dead notices. */
static const char record_sql[] =
	"WITH u AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u (id, outcome, err)),"
	" upd AS (UPDATE notifications n SET"
	"  status = CASE WHEN u.outcome = 'sent' THEN 'sent'"
	"   WHEN u.outcome = 'dead' OR (u.outcome = 'retry' AND n.attempts + 1 >= $4::int) THEN 'dead'"
	"   ELSE 'pending' END,"
	"  attempts = n.attempts + CASE WHEN u.outcome = 'down' THEN 0 ELSE 1 END,"
	"  sent_at = CASE WHEN u.outcome = 'sent' THEN now() END,"
	"  sent_batch_id = CASE WHEN u.outcome IN ('sent', 'dead')"
	"   OR (u.outcome = 'retry' AND n.attempts + 1 >= $4::int) THEN $5::bigint ELSE n.sent_batch_id END,"
	"  last_error = CASE WHEN u.outcome = 'sent' THEN NULL ELSE u.err END,"
	"  next_attempt_at = CASE WHEN u.outcome IN ('retry', 'down') THEN now()"
	"   + least($7::float8, $6::float8 * power(2, least(n.attempts, 40)))"
	"   * (1 + random() * 0.25) * interval '1 second' ELSE n.next_attempt_at END"
	"  FROM u WHERE n.id = u.id RETURNING n.status)"
	" SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status = 'dead'),"
	" count(*) FILTER (WHERE status = 'pending') FROM upd";

struct rate {
	long long per_sec; /* 0: no limit */
	double start;
	long long n;
};

struct run {
	struct ctx *ctx;
	struct config *cfg;
	PGconn *c;
	struct batch b;
	const char *formats;
	char from[256], domain[256]; /* from: as on the wire (mail_addr_wire) */
	long long limit, chunk, max_attempts, backoff_base, backoff_max;
	struct smtp *smtp;
	struct sms *sms;
	struct progress prog;
	long long sent, retried, dead, failed_channels;
	int down;
	char down_why[512];
};

/* Outcomes of one chunk, as PostgreSQL array literals. */
struct chunk {
	struct sbuf ids, outs, errs;
	int n, closed;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void rate_wait(struct rate *rt)
{
	double due, now;

	if (rt->per_sec <= 0)
		return;
	now = now_s();
	if (!rt->n || now > rt->start + (double)rt->n / rt->per_sec + 1.0) {
		/* first message, or we fell behind by more than a second: no burst */
		rt->start = now;
		rt->n = 0;
	}
	due = rt->start + (double)rt->n / rt->per_sec;
	if (due > now) {
		struct timespec ts = { (time_t)(due - now), (long)(fmod(due - now, 1.0) * 1e9) };

		nanosleep(&ts, NULL);
	}
	rt->n++;
}

/* Reasons go to the database and the log: valid UTF-8 without control
 * characters (a server's words, in any charset), no addresses or long digit
 * runs (a gateway may echo the phone number back). */
static void scrub(char *s)
{
	clean_text(s);
	for (char *p = s; *p; p++) {
		if (*p == '@') {
			char *a = p, *b = p;

			while (a > s && a[-1] != ' ' && a[-1] != '<' && a[-1] != '"')
				*--a = '*';
			while (b[1] && b[1] != ' ' && b[1] != '>' && b[1] != '"')
				*++b = '*';
			p = b;
		}
	}
	for (char *p = s; *p;) {
		size_t k = strspn(p, "0123456789");

		if (k >= 7)
			memset(p, '*', k);
		p += k ? k : 1;
	}
}

static void chunk_open(struct chunk *ch)
{
	memset(ch, 0, sizeof(*ch));
}

static void chunk_add(struct chunk *ch, const char *id, const char *outcome, const char *err)
{
	arr_item(&ch->ids, id, 0);
	arr_item(&ch->outs, outcome, 0);
	if (err)
		arr_item(&ch->errs, err, 1);
	else
		arr_null(&ch->errs);
	ch->n++;
}

static void chunk_close(struct chunk *ch)
{
	if (ch->closed)
		return;
	arr_done(&ch->ids);
	arr_done(&ch->outs);
	arr_done(&ch->errs);
	ch->closed = 1;
}

static void chunk_free(struct chunk *ch)
{
	free(ch->ids.s);
	free(ch->outs.s);
	free(ch->errs.s);
}

/* Data XML for the stylesheet: <notice id event channel> with the greeting
 * names and the payload fields that are set. */
static char *render(struct run *r, PGresult *res, int i, const char *channel, char *why,
		    size_t whyn)
{
	static const struct { int col; const char *name; } fields[] = {
		{ C_FIRST, "first-name" }, { C_PATRONYMIC, "patronymic" },
		{ C_FAMILY, "family-name" }, { C_REASON, "reason" },
		{ C_TRACKING, "tracking" }, { C_VALID_UNTIL, "valid-until" },
	};
	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr root = xmlNewNode(NULL, BAD_CAST "notice");
	char *xsl, *out = NULL;

	xmlDocSetRootElement(doc, root);
	xmlNewProp(root, BAD_CAST "id", BAD_CAST PQgetvalue(res, i, C_ID));
	xmlNewProp(root, BAD_CAST "event", BAD_CAST PQgetvalue(res, i, C_EVENT));
	xmlNewProp(root, BAD_CAST "channel", BAD_CAST channel);
	for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
		if (!PQgetisnull(res, i, fields[k].col))
			xmlNewTextChild(root, NULL, BAD_CAST fields[k].name,
					BAD_CAST PQgetvalue(res, i, fields[k].col));
	xsl = xasprintf("notify-%s-%s.xsl", PQgetvalue(res, i, C_EVENT), channel);
	if (xslt_apply(r->formats, xsl, doc, NULL, &out, NULL)) {
		snprintf(why, whyn, "cannot render %s", xsl);
		out = NULL;
	}
	free(xsl);
	xmlFreeDoc(doc);
	return out;
}

/* Send one claimed e-mail; the reason of a failure in why. */
static enum send_result send_email(struct run *r, PGresult *res, int i, char *why, size_t whyn)
{
	const char *to = PQgetvalue(res, i, C_EMAIL), *subject, *body;
	char mid[320], wire[256], *text, *msg = NULL;
	int intl;
	enum send_result ret = SEND_PERMANENT;
	long long id = atoll(PQgetvalue(res, i, C_ID));
	struct mail m;
	size_t len;

	if (PQgetisnull(res, i, C_EMAIL) || !mail_addr_ok(to)) {
		snprintf(why, whyn, "the account has no usable e-mail address");
		return SEND_PERMANENT;
	}
	if (mail_addr_wire(to, wire, sizeof(wire), &intl, why, whyn))
		return SEND_PERMANENT;
	text = render(r, res, i, "email", why, whyn);
	if (!text)
		return SEND_PERMANENT;
	mail_split_subject(text, &subject, &body);
	if (!*subject) {
		snprintf(why, whyn, "the e-mail template gave no subject");
		goto out;
	}
	mail_message_id(id, r->domain, mid, sizeof(mid));
	m = (struct mail){ .from = r->from, .to = wire, .subject = subject, .body = body,
			   .message_id = mid, .date = time(NULL) };
	msg = mail_build(&m, &len);
	if (!msg) {
		snprintf(why, whyn, "cannot build the message");
		goto out;
	}
	ret = smtp_send(r->smtp, r->from, wire, intl, msg, len, why, whyn);
out:
	free(msg);
	free(text);
	return ret;
}

static enum send_result send_sms(struct run *r, PGresult *res, int i, char *why, size_t whyn)
{
	const char *to = PQgetvalue(res, i, C_PHONE);
	enum send_result ret = SEND_PERMANENT;
	char *text, *e, id[64];
	size_t units;

	if (PQgetisnull(res, i, C_PHONE) || !*to) {
		snprintf(why, whyn, "the account has no phone number");
		return SEND_PERMANENT;
	}
	text = render(r, res, i, "sms", why, whyn);
	if (!text)
		return SEND_PERMANENT;
	for (e = text + strlen(text); e > text && strchr(" \t\r\n", e[-1]); e--)
		e[-1] = '\0';
	units = sms_units(text);
	if (!units || units > 134) {
		snprintf(why, whyn, "the sms text has %zu characters, not 1 to 134 (two segments)",
			 units);
		goto out;
	}
	snprintf(id, sizeof(id), "esia-notice-%s", PQgetvalue(res, i, C_ID));
	ret = sms_send(r->sms, id, to, text, why, whyn);
out:
	free(text);
	return ret;
}

/* Record the chunk's outcomes and commit; 0 or -1. */
static int record(struct run *r, struct chunk *ch)
{
	char maxa[24], bid[24], base[24], max[24];
	const char *p[7];
	PGresult *res;

	chunk_close(ch);
	snprintf(maxa, sizeof(maxa), "%lld", r->max_attempts);
	snprintf(bid, sizeof(bid), "%lld", r->b.id);
	snprintf(base, sizeof(base), "%lld", r->backoff_base);
	snprintf(max, sizeof(max), "%lld", r->backoff_max);
	p[0] = ch->ids.s;
	p[1] = ch->outs.s;
	p[2] = ch->errs.s;
	p[3] = maxa;
	p[4] = bid;
	p[5] = base;
	p[6] = max;
	res = db_query(r->c, record_sql, 7, p);
	if (!res)
		return -1;
	r->sent += atoll(PQgetvalue(res, 0, 0));
	r->dead += atoll(PQgetvalue(res, 0, 1));
	r->retried += atoll(PQgetvalue(res, 0, 2));
	PQclear(res);
	r->b.records = r->sent;
	r->b.rejected = r->dead;
	if (batch_update_counts(r->c, &r->b))
		return -1;
	return db_commit(r->c);
}

/* Open the sender of a channel on first use. */
static int open_channel(struct run *r, const char *channel)
{
	if (!strcmp(channel, "email")) {
		const char *dom = cfg_str(r->cfg, "smtp", "message_id_domain"),
			   *from = cfg_str(r->cfg, "smtp", "from");
		char why[160];
		int intl;

		if (r->smtp)
			return 0;
		if (!mail_addr_ok(from))
			return error("[smtp] from is not a bare address: \"%s\"", from);
		if (mail_addr_wire(from, r->from, sizeof(r->from), &intl, why, sizeof(why)))
			return error("[smtp] from \"%s\": %s", from, why);
		/* every citizen's server must take the sender */
		if (intl)
			return error("[smtp] from \"%s\": the part before @ must be ASCII", from);
		if (!*dom)
			dom = mail_domain(r->from);
		snprintf(r->domain, sizeof(r->domain), "%s", dom);
		{
			char probe[320];

			if (mail_message_id(1, r->domain, probe, sizeof(probe)))
				return error("[smtp] message_id_domain \"%s\" is not a domain", r->domain);
		}
		r->smtp = smtp_open(r->cfg);
		return r->smtp ? 0 : -1;
	}
	if (r->sms)
		return 0;
	r->sms = sms_open(r->cfg);
	return r->sms ? 0 : -1;
}

/* Deliver one channel's due notices; -1 on a database or setup error. When
 * the server is down, r->down is set and the channel stops. */
static int run_channel(struct run *r, const char *channel)
{
	int email = !strcmp(channel, "email");
	struct rate rt = { cfg_int(r->cfg, email ? "smtp" : "sms", "rate_limit"), 0, 0 };
	long long left = r->limit;
	int ret = -1;

	while (left > 0) {
		char lim[24];
		const char *p[2] = { channel, lim };
		struct chunk ch;
		PGresult *res;
		int rows, stop = 0;

		snprintf(lim, sizeof(lim), "%lld", left < r->chunk ? left : r->chunk);
		if (db_begin(r->c))
			goto out;
		res = db_query(r->c, claim_sql, 2, p);
		if (!res)
			goto out;
		rows = PQntuples(res);
		if (!rows) {
			PQclear(res);
			ret = db_commit(r->c);
			goto out;
		}
		if (open_channel(r, channel)) {
			PQclear(res);
			db_rollback(r->c);
			goto out;
		}
		chunk_open(&ch);
		for (int i = 0; i < rows; i++) {
			const char *id = PQgetvalue(res, i, C_ID);
			char why[512] = "", mask[64], qw[640];
			enum send_result sr;

			if (stop) {
				/* the server went away: defer the rest of the chunk */
				chunk_add(&ch, id, "down", r->down_why);
				continue;
			}
			rate_wait(&rt);
			sr = email ? send_email(r, res, i, why, sizeof(why))
				   : send_sms(r, res, i, why, sizeof(why));
			scrub(why);
			if (email)
				mask_email(PQgetvalue(res, i, C_EMAIL), mask);
			else
				mask_phone(PQgetvalue(res, i, C_PHONE), mask);
			switch (sr) {
			case SEND_OK:
				fault_point("notify.after_send");
				chunk_add(&ch, id, "sent", NULL);
				log_event(LOG_LVL_DEBUG, "notify.sent", "id=%s channel=%s event=%s to=%s",
					  id, channel, PQgetvalue(res, i, C_EVENT), mask);
				break;
			case SEND_TRANSIENT:
				chunk_add(&ch, id, "retry", why);
				log_event(LOG_LVL_WARN, "notify.retry", "id=%s channel=%s to=%s error=%s",
					  id, channel, mask, log_quote(why, qw, sizeof(qw)));
				break;
			case SEND_PERMANENT:
				chunk_add(&ch, id, "dead", why);
				log_event(LOG_LVL_WARN, "notify.dead", "id=%s channel=%s to=%s error=%s",
					  id, channel, mask, log_quote(why, qw, sizeof(qw)));
				break;
			case SEND_DOWN:
				stop = r->down = 1;
				snprintf(r->down_why, sizeof(r->down_why), "%s", why);
				chunk_add(&ch, id, "down", why);
				log_event(LOG_LVL_WARN, "notify.down", "channel=%s error=%s", channel,
					  log_quote(why, qw, sizeof(qw)));
				break;
			}
			progress_add(&r->prog, 1);
		}
		PQclear(res);
		if (record(r, &ch)) {
			chunk_free(&ch);
			db_rollback(r->c);
			goto out;
		}
		chunk_free(&ch);
		left -= rows;
		if (stop || rows < atoll(lim)) {
			ret = 0;
			goto out;
		}
	}
	ret = 0;
out:
	if (!strcmp(channel, "email") && r->smtp)
		log_event(LOG_LVL_INFO, "notify.smtp", "connections=%ld", smtp_connections(r->smtp));
	return ret;
}

/* code_expiring for live codes expiring within days, once per code (the
 * event key names the code), in the batch's own transaction. expires_at is
 * the first moment the code no longer works (midnight Moscow time after the
 * letter's "до D включительно"), so the notice names the second before. */
static int enqueue_expiring(struct run *r, long long days)
{
	char d[24], bid[24];
	const char *p[2] = { d, bid };
	PGresult *res;

	snprintf(d, sizeof(d), "%lld", days);
	snprintf(bid, sizeof(bid), "%lld", r->b.id);
	if (db_begin(r->c))
		return -1;
	res = db_query(r->c,
		"SELECT coalesce(sum(enqueue_notice(account_id, 'code_expiring', 'code_expiring:' || id,"
		" jsonb_build_object('valid_until', to_char((expires_at - interval '1 second')"
		"  AT TIME ZONE 'Europe/Moscow', 'YYYY-MM-DD')),"
		" $2::bigint)), 0) FROM activation_codes"
		" WHERE status = 'live' AND expires_at > now()"
		" AND expires_at <= now() + $1::int * interval '1 day'", 2, p);
	if (!res) {
		db_rollback(r->c);
		return -1;
	}
	log_event(LOG_LVL_INFO, "notify.expiring", "days=%s enqueued=%s", d, PQgetvalue(res, 0, 0));
	PQclear(res);
	return db_commit(r->c);
}

/* A rerun of a notify batch: its dead notices become pending again. */
static int revive(struct run *r, const char *only)
{
	char id[24];
	const char *p[2] = { id, only };
	PGresult *res;

	snprintf(id, sizeof(id), "%lld", r->ctx->rerun_of);
	res = db_query(r->c,
		"WITH v AS (UPDATE notifications SET status = 'pending', attempts = 0,"
		" next_attempt_at = now(), last_error = NULL, sent_batch_id = NULL"
		" WHERE sent_batch_id = $1::bigint AND status = 'dead'"
		" AND ($2::text IS NULL OR channel = $2) RETURNING 1) SELECT count(*) FROM v",
		2, p);
	if (!res)
		return -1;
	log_event(LOG_LVL_INFO, "notify.revive", "rerun_of=%s notices=%s", id, PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

CMD(cmd_notify)
{
	const char *only = NULL;
	struct run r = { .ctx = ctx, .limit = 1LL << 62 };
	char *params = NULL;
	int ret = EXIT_FAILED, rc;
	long long expiring = -1;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "--channel")) {
			only = argv[++i];
			if (strcmp(only, "email") && strcmp(only, "sms"))
				return usage_error(usage, "unknown channel \"%s\" (email or sms)", only);
		} else if (i + 1 < argc && !strcmp(argv[i], "--limit")) {
			if (parse_int(argv[++i], &r.limit) || r.limit <= 0)
				return usage_error(usage, "--limit needs a positive number, not \"%s\"",
						   argv[i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--expiring-days")) {
			if (parse_int(argv[++i], &expiring) || expiring <= 0 || expiring > 3650)
				return usage_error(usage, "--expiring-days needs 1 to 3650, not \"%s\"",
						   argv[i]);
		} else {
			return usage_error(usage, "unknown or incomplete option \"%s\"", argv[i]);
		}
	}
	r.cfg = ctx_config(ctx);
	if (!r.cfg)
		return EXIT_FAILED;
	r.formats = cfg_formats_dir(r.cfg);
	r.chunk = cfg_int(r.cfg, "notify", "chunk");
	r.max_attempts = cfg_int(r.cfg, "notify", "max_attempts");
	r.backoff_base = cfg_dur(r.cfg, "notify", "backoff_base");
	r.backoff_max = cfg_dur(r.cfg, "notify", "backoff_max");
	if (r.chunk <= 0)
		r.chunk = 100;
	if (r.max_attempts <= 0)
		r.max_attempts = 1;
	r.c = ctx_connect(ctx);
	if (!r.c)
		return ctx->connect_exit;
	if (!ctx->rerun_of && expiring < 0) {
		const char *p[1] = { only };
		char *due = db_scalar(r.c,
			"SELECT EXISTS (SELECT 1 FROM notifications WHERE status = 'pending'"
			" AND next_attempt_at <= now() AND ($1::text IS NULL OR channel = $1))", 1, p);

		if (!due) {
			ret = db_is_down(r.c) ? EXIT_TEMPFAIL : EXIT_FAILED;
			goto out;
		}
		if (strcmp(due, "t")) {
			free(due);
			if (ctx->json)
				puts("{\"batch\":null,\"sent\":0,\"retry\":0,\"dead\":0,\"down\":false}");
			else if (ctx->verbosity >= 0) /* -q: cron mails any output */
				printf("nothing to do: no notices due%s%s\n", only ? " on " : "",
				       only ? only : "");
			ret = ledger_job_ran(r.c, "notify", only) ? EXIT_FAILED : 0;
			goto out;
		}
		free(due);
	}
	params = batch_params_argv(argc, argv, ctx->parallel);
	rc = batch_start(r.c, &r.b, "notify", only,
			 ctx->parallel ? LOCK_SHARED_WORK : LOCK_EXCLUSIVE, params, ctx->rerun_of);
	if (rc) {
		ret = rc == EXIT_TEMPFAIL ? EXIT_TEMPFAIL : EXIT_FAILED;
		goto out;
	}
	if (ctx->rerun_of && revive(&r, only)) {
		batch_finish(r.c, &r.b, "failed", "cannot revive the dead notices");
		goto out;
	}
	if (expiring > 0 && enqueue_expiring(&r, expiring)) {
		batch_finish(r.c, &r.b, "failed", "cannot enqueue code_expiring notices");
		ret = db_is_down(r.c) ? EXIT_TEMPFAIL : EXIT_FAILED;
		goto out;
	}
	progress_start(&r.prog, "notices", 0);
	for (int k = 0; k < 2; k++) {
		const char *channel = k ? "sms" : "email";
		int down_before = r.down;

		if (only && strcmp(only, channel))
			continue;
		r.down = 0;
		if (run_channel(&r, channel)) {
			if (db_is_down(r.c)) {
				r.down = 1;
				snprintf(r.down_why, sizeof(r.down_why), "database unreachable");
				break;
			}
			r.failed_channels++;
		}
		r.down |= down_before;
	}
	progress_end(&r.prog);
	{
		char err[600] = "";
		const char *status = "succeeded";

		if (r.down) {
			snprintf(err, sizeof(err), "server unreachable: %s", r.down_why);
			status = r.sent ? "partial" : "failed";
			ret = EXIT_TEMPFAIL;
		} else if (r.failed_channels) {
			snprintf(err, sizeof(err), "a channel failed (see the log)");
			status = r.sent ? "partial" : "failed";
			ret = EXIT_FAILED;
		} else if (r.dead) {
			snprintf(err, sizeof(err), "%lld notice%s dead", r.dead, r.dead == 1 ? "" : "s");
			status = "partial";
			ret = EXIT_DATAERR;
		} else {
			ret = 0;
		}
		if (batch_finish(r.c, &r.b, status, *err ? err : NULL) && !ret)
			ret = EXIT_FAILED;
	}
	if (ctx->json)
		printf("{\"batch\":%lld,\"sent\":%lld,\"retry\":%lld,\"dead\":%lld,\"down\":%s}\n",
		       r.b.id, r.sent, r.retried, r.dead, r.down ? "true" : "false");
	else if (ctx->verbosity >= 0)
		printf("batch %lld: sent %lld, to retry %lld, dead %lld%s\n", r.b.id, r.sent,
		       r.retried, r.dead, r.down ? " (server unreachable, rest deferred)" : "");
out:
	smtp_close(r.smtp);
	sms_close(r.sms);
	free(params);
	PQfinish(r.c);
	return ret;
}
