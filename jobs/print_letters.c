/* print-letters: activation-code letters for standard accounts that chose
 * confirmation by mail.
 *
 *   claim    standard mail accounts with a valid address and no live code,
 *            through a cursor fetched 1,000 rows at a time (FOR UPDATE SKIP
 *            LOCKED, held until the record step commits); invalid addresses
 *            get accounts.address_problem and are skipped
 *   burn     per fetch, tracking numbers in their own committed transaction
 *            (second connection): never printed twice even after a crash
 *   build    per letter a fresh code (CSPRNG, Damm check digit) and its HMAC;
 *            formats/letter.xsl turns the letters' data into layout text
 *   write    print/<batch>/letters.pdf, registry.json, f103.csv (atomic, 0600)
 *   record   one transaction: old codes/letters revoked (reissues only),
 *            letters, code HMACs, audit events, "letter sent" notices, counts
 *   manifest manifest.json, only after the commit: a folder holding one has
 *            every code recorded (a crash in between: the next run writes it)
 *
 * A crash before the record step leaves no live code; the next run claims
 * the same accounts again and prints fresh codes on fresh tracking numbers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "atomic.h"
#include "code.h"
#include "db.h"
#include "esia-batch.h"
#include "fault.h"
#include "json.h"
#include "ledger.h"
#include "pgarray.h"
#include "letter_pdf.h"
#include "log.h"
#include "post_registry.h"
#include "progress.h"
#include "tracking.h"
#include "validate.h"
#include "xslt.h"

static const char usage[] = "esia-batch print-letters [--limit N] [--account ID]";

static const char help[] =
	"usage: esia-batch print-letters [--limit N] [--account ID]\n"
	"\n"
	"Print activation-code letters for standard accounts that chose confirmation\n"
	"by mail, have a complete valid postal address and no live code. Each letter\n"
	"gets a fresh 16-digit code (stored only as an HMAC) and a tracking number\n"
	"from [letters] tracking_ranges. Writes, into print/<batch id>/:\n"
	"  letters.pdf    one A4 page per letter (page i = letter i)\n"
	"  registry.json  Russian Post Otpravka order list\n"
	"  f103.csv       F103 list: serial, addressee, address, tracking number, mass\n"
	"  manifest.json  file names, SHA-256, letter count (written last, once the\n"
	"                 codes are recorded: a folder without one is not complete)\n"
	"The folder of a batch that died before recording its letters is removed by\n"
	"the next run: its codes were never stored, so it must not be posted.\n"
	"Accounts with an incomplete or invalid address, or without a family or first\n"
	"name, are skipped and the reason is stored in accounts.address_problem for\n"
	"operators. An account whose code was blocked (too many wrong attempts) or\n"
	"expired gets a new letter only when asked for with --account.\n"
	"\n"
	"  --limit N      at most N letters (default and cap: [letters] max_per_batch)\n"
	"  --account ID   reissue for one account: its live code and letter are revoked\n"
	"                 and a new letter is printed\n"
	"`esia-batch rerun BATCH` of a print batch reissues for that batch's accounts\n"
	"(of a reissue that died before recording: for those of the batch it reissued).\n"
	"\n"
	"Exit: 0 done or nothing to do, 1 failed (nothing recorded; tracking numbers\n"
	"already burned stay burned; or recorded but manifest.json not written: the\n"
	"next run writes it), 2 usage, 65 letters printed but some accounts\n"
	"skipped for their address (or --account could not be served),\n"
	"75 another run holds the lock or the database is down.\n";

#define CHUNK 200  /* letters per stylesheet run */
#define FETCH "1000" /* claimed rows per fetch */
/* A line condensed below this share of its natural width (a very long name
 * or street in the window) is hard to read, for the Post's sorters too: the
 * letter is printed and the operator warned, by account id. */
#define CONDENSED_MIN_PCT 60

enum col { C_ID, C_FAMILY, C_FIRST, C_PATRONYMIC, C_INDEX, C_REGION, C_DISTRICT, C_LOCALITY,
	   C_STREET, C_HOUSE, C_FLAT };

static const char *const file_names[] = { "letters.pdf", "registry.json", "f103.csv" };
#define NFILES 3

struct job {
	struct ctx *ctx;
	const struct config *cfg;
	PGconn *c;  /* claims and records */
	PGconn *c2; /* burns tracking numbers */
	int c2_failed;
	struct batch b;
	unsigned char *key;
	size_t keylen;
	struct tracking_range *ranges;
	int nranges;
	long long ttl, account, limit;
	int mass;
	const char *mode; /* "new", "account", "rerun" */
	char scope[256];  /* "rerun": the accounts reissued (rerun_source) */
	char *dir;
	PGresult *claim;     /* the current FETCH of the claim cursor */
	int base, rows;      /* its first row's index in the batch; its rows */
	int n;               /* letters so far */
	long long *ids;      /* n account ids */
	char valid_until[16];
	char *barcodes;      /* n * 15 */
	char *macs;          /* n * 65, hex */
	int files_written;   /* how many of file_names are in dir */
	int commit_sent;     /* COMMIT was sent: its outcome may be unknown */
};

/* A text column as it is tested and printed: SQL_CLEAN() (db.h). btrim(x)
 * alone strips only spaces: a part of a tab, a newline or a no-break space
 * passed as present and printed empty, and one inside a street split the
 * letter's address line and reached registry.json and f103.csv as it was.
 * Control characters are never text in a name or an address and must not
 * reach the Post's files. One definition for the check and the print: both
 * see the same text (for all parts: 3 to 5 s more on the print bench's
 * 100,000 letters, were every part to go through regexp_replace()). */
/* The reason a letter cannot be addressed, as SQL over accounts (NULL =
 * fine): the addressee's family and first name (a letter to nobody is not
 * delivered; the patronymic may be empty) and the address. Mirrors
 * valid_index() for the index (the column's CHECK admits no whitespace, so
 * it needs no trimming). */
#define ADDRESS_PROBLEM \
	"CASE WHEN coalesce(" SQL_CLEAN("family_name") ", '') = '' THEN 'family name missing'" \
	" WHEN coalesce(" SQL_CLEAN("first_name") ", '') = '' THEN 'first name missing'" \
	" WHEN postal_index IS NULL THEN 'postal index missing'" \
	" WHEN postal_index !~ '^[1-9][0-9]{5}$' THEN 'postal index must be 6 digits, not starting with 0'" \
	" WHEN coalesce(" SQL_CLEAN("locality") ", '') = '' THEN 'locality missing'" \
	" WHEN coalesce(" SQL_CLEAN("street") ", '') = '' THEN 'street missing'" \
	" WHEN coalesce(" SQL_CLEAN("house") ", '') = '' THEN 'house missing' END"

#define MAIL_ACCOUNT "a.level = 'standard' AND a.confirm_method = 'mail'"
/* Never printed, or the last letter was revoked. A blocked or expired code
 * needs the citizen to ask for a new letter (--account). */
#define NO_LIVE_CODE \
	"NOT EXISTS (SELECT 1 FROM activation_codes k WHERE k.account_id = a.id" \
	" AND k.status IN ('live', 'blocked', 'expired'))"

static const char *scope_sql(struct job *j)
{
	if (!strcmp(j->mode, "account"))
		return "a.id = $1::bigint";
	if (!strcmp(j->mode, "rerun"))
		return j->scope;
	return "$1::bigint IS NOT NULL AND " NO_LIVE_CODE;
}

/* Flag (and unflag) address problems in scope; count newly flagged ones as
 * rejected. Its own statement, committed: operators see it even if the
 * rest of the run fails. */
static int flag_addresses(struct job *j)
{
	char id[24], *sql;
	const char *p[1] = { id };
	PGresult *r;
	int n;

	snprintf(id, sizeof(id), "%lld", j->account);
	sql = xasprintf("UPDATE accounts u SET address_problem = v.reason"
			" FROM (SELECT a.id, " ADDRESS_PROBLEM " AS reason FROM accounts a"
			"        WHERE " MAIL_ACCOUNT " AND %s FOR UPDATE SKIP LOCKED) v"
			" WHERE u.id = v.id AND u.address_problem IS DISTINCT FROM v.reason"
			" RETURNING u.id, v.reason", scope_sql(j));
	r = db_query(j->c, sql, 1, p);
	free(sql);
	if (!r)
		return -1;
	n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		if (PQgetisnull(r, i, 1)) {
			log_event(LOG_LVL_INFO, "print.address_fixed", "account=%s", PQgetvalue(r, i, 0));
			continue;
		}
		j->b.rejected++;
		log_event(LOG_LVL_WARN, "print.address_problem", "account=%s reason=\"%s\"",
			  PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	}
	PQclear(r);
	return 0;
}

#define CLAIM_COLS \
	"a.id, " SQL_CLEAN("a.family_name") ", " SQL_CLEAN("a.first_name") "," \
	" coalesce(" SQL_CLEAN("a.patronymic") ", ''), a.postal_index," \
	" coalesce(" SQL_CLEAN("a.region") ", ''), coalesce(" SQL_CLEAN("a.district") ", '')," \
	" " SQL_CLEAN("a.locality") ", " SQL_CLEAN("a.street") ", " SQL_CLEAN("a.house") "," \
	" coalesce(" SQL_CLEAN("a.flat") ", '')"

/* The cursor tested NO_LIVE_CODE against its own (older) snapshot, and
 * FOR UPDATE re-tests only rows that were updated: a parallel run that
 * printed for an account locks it but writes only codes and letters. Now
 * that we hold the locks, a fresh statement sees every committed code;
 * keep only the accounts still without one. */
static int drop_served(struct job *j)
{
	struct sbuf ids = { 0 };
	const char *p[1];
	PGresult *r;
	int was = j->rows;

	for (int i = 0; i < j->rows; i++)
		arr_item(&ids, PQgetvalue(j->claim, i, C_ID), 0);
	p[0] = arr_done(&ids);
	r = db_query(j->c, "SELECT " CLAIM_COLS " FROM accounts a WHERE a.id = ANY ($1::bigint[])"
			   " AND " NO_LIVE_CODE " ORDER BY a.id", 1, p);
	free(ids.s);
	if (!r)
		return -1;
	PQclear(j->claim);
	j->claim = r;
	j->rows = PQntuples(r);
	if (j->rows < was)
		log_event(LOG_LVL_INFO, "print.served_meanwhile", "accounts=%d", was - j->rows);
	return 0;
}

/* The next rows of the claim (locked as they are fetched), with their
 * tracking numbers burned; j->rows = 0 at the end. */
static int fetch_next(struct job *j)
{
	char *nums = NULL;

	j->base = j->n;
	do {
		PQclear(j->claim);
		j->claim = db_query(j->c, "FETCH " FETCH " FROM print_claim", 0, NULL);
		if (!j->claim)
			return -1;
		j->rows = PQntuples(j->claim);
		if (!j->rows)
			return 0;
		if (!strcmp(j->mode, "new") && drop_served(j))
			return -1;
	} while (!j->rows);
	log_event(LOG_LVL_INFO, "print.claimed", "letters=%d mode=%s", j->rows, j->mode);
	fault_point("print.after_claim");
	/* burn, on a connection of its own: committed now, whatever follows */
	if (!j->c2) {
		j->c2 = db_connect(j->cfg);
		if (!j->c2) {
			j->c2_failed = 1;
			return -1;
		}
	}
	if (tracking_burn(j->c2, j->ranges, j->nranges, j->b.id, j->rows, &nums))
		return -1;
	j->n += j->rows;
	j->ids = xrealloc(j->ids, (size_t)j->n * sizeof(*j->ids));
	j->barcodes = xrealloc(j->barcodes, (size_t)j->n * 15);
	j->macs = xrealloc(j->macs, (size_t)j->n * 65);
	memcpy(j->barcodes + (size_t)j->base * 15, nums, (size_t)j->rows * 15);
	memset(j->macs + (size_t)j->base * 65, 0, (size_t)j->rows * 65);
	for (int i = 0; i < j->rows; i++)
		j->ids[j->base + i] = atoll(PQgetvalue(j->claim, i, C_ID));
	free(nums);
	fault_point("print.after_burn");
	return 0;
}

/* Open the transaction that lives until the record step, declare the claim
 * cursor and fetch its first rows. */
static int claim(struct job *j)
{
	char id[24], lim[24], ttl[24], *sql;
	const char *p[3] = { id, lim, ttl };
	PGresult *r;

	snprintf(id, sizeof(id), "%lld", j->account);
	snprintf(lim, sizeof(lim), "%lld", j->limit);
	snprintf(ttl, sizeof(ttl), "%lld", j->ttl);
	if (db_begin(j->c))
		return -1;
	/* the day the code stops working, Moscow time; the letter says "until
	 * DATE inclusive" and expires_at is the end of that day */
	r = db_query(j->c, "SELECT to_char(((now() + $1::bigint * interval '1 second')"
			   " AT TIME ZONE 'Europe/Moscow')::date, 'DD.MM.YYYY')", 1, p + 2);
	if (!r)
		return -1;
	snprintf(j->valid_until, sizeof(j->valid_until), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	sql = xasprintf("SELECT " CLAIM_COLS " FROM accounts a WHERE " MAIL_ACCOUNT " AND a.address_problem IS NULL"
			" AND (" ADDRESS_PROBLEM ") IS NULL AND %s"
			" ORDER BY a.id LIMIT $2::bigint FOR UPDATE OF a SKIP LOCKED",
			scope_sql(j));
	{
		char *decl = xasprintf("DECLARE print_claim NO SCROLL CURSOR FOR %s", sql);

		free(sql);
		if (db_exec(j->c, decl, 2, p)) {
			free(decl);
			return -1;
		}
		free(decl);
	}
	fault_point("print.after_declare");
	return fetch_next(j);
}

static void item_of(PGresult *r, int i, struct post_item *it)
{
	it->family = PQgetvalue(r, i, C_FAMILY);
	it->first = PQgetvalue(r, i, C_FIRST);
	it->patronymic = PQgetvalue(r, i, C_PATRONYMIC);
	it->index = PQgetvalue(r, i, C_INDEX);
	it->region = PQgetvalue(r, i, C_REGION);
	it->district = PQgetvalue(r, i, C_DISTRICT);
	it->locality = PQgetvalue(r, i, C_LOCALITY);
	it->street = PQgetvalue(r, i, C_STREET);
	it->house = PQgetvalue(r, i, C_HOUSE);
	it->flat = PQgetvalue(r, i, C_FLAT);
}

static void add_text(xmlNodePtr parent, const char *name, const char *value)
{
	xmlNewTextChild(parent, NULL, (const xmlChar *)name, (const xmlChar *)value);
}

/* Letter g's narrowest line (a share of its natural width): a warning, not
 * a rejection, like the other warnings of a run that printed its letters
 * (the exit code and the batch's counts stay as they are). No name or
 * address in the log: the operator looks the account up. */
static void warn_condensed(struct job *j, int g, double narrowest)
{
	int pct = (int)(narrowest * 100);

	if (pct < CONDENSED_MIN_PCT)
		log_event(LOG_LVL_WARN, "print.line_condensed", "account=%lld page=%d width_pct=%d min_pct=%d",
			  j->ids[g], g + 1, pct, CONDENSED_MIN_PCT);
}

/* Letters [from, to): fresh codes and their MACs, then the layout through the
 * stylesheet onto the PDF. */
static int build_chunk(struct job *j, struct letter_pdf *pdf, int from, int to)
{
	xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
	xmlNodePtr root = xmlNewNode(NULL, (const xmlChar *)"letters"), s;
	char code[CODE_DIGITS + 1], page[16], *layout = NULL;
	double narrowest[CHUNK];
	unsigned char mac[CODE_HMAC_LEN];
	int len = 0, drawn, ret = -1;

	xmlDocSetRootElement(doc, root);
	s = xmlNewChild(root, NULL, (const xmlChar *)"sender", NULL);
	add_text(s, "name", cfg_str(j->cfg, "letters", "sender_name"));
	add_text(s, "address", cfg_str(j->cfg, "letters", "sender_address"));
	add_text(s, "index", cfg_str(j->cfg, "letters", "sender_index"));
	for (int i = from; i < to; i++) {
		xmlNodePtr l = xmlNewChild(root, NULL, (const xmlChar *)"letter", NULL), rc;
		struct post_item it;

		size_t g = (size_t)(j->base + i);

		item_of(j->claim, i, &it);
		snprintf(page, sizeof(page), "%zu", g + 1);
		xmlNewProp(l, (const xmlChar *)"page", (const xmlChar *)page);
		rc = xmlNewChild(l, NULL, (const xmlChar *)"recipient", NULL);
		add_text(rc, "family", it.family);
		add_text(rc, "first", it.first);
		add_text(rc, "patronymic", it.patronymic);
		add_text(rc, "street", it.street);
		add_text(rc, "house", it.house);
		add_text(rc, "flat", it.flat);
		add_text(rc, "locality", it.locality);
		add_text(rc, "district", it.district);
		add_text(rc, "region", it.region);
		add_text(rc, "index", it.index);
		add_text(l, "tracking", j->barcodes + g * 15);
		if (code_generate(code) || code_hmac(j->key, j->keylen, code, mac))
			goto out;
		for (int k = 0; k < CODE_HMAC_LEN; k++)
			snprintf(j->macs + g * 65 + 2 * k, 3, "%02x", mac[k]);
		add_text(l, "code", code);
		add_text(l, "valid-until", j->valid_until);
	}
	if (xslt_apply(cfg_formats_dir(j->cfg), "letter.xsl", doc, NULL, &layout, &len))
		goto out;
	drawn = letter_pdf_draw(pdf, layout, narrowest, to - from);
	if (drawn < 0)
		goto out;
	if (drawn != to - from) {
		error("formats/letter.xsl made %d pages for %d letters", drawn, to - from);
		goto out;
	}
	for (int i = from; i < to; i++)
		warn_condensed(j, j->base + i, narrowest[i - from]);
	ret = 0;
out:
	OPENSSL_cleanse(code, sizeof(code));
	if (layout)
		OPENSSL_cleanse(layout, len);
	free(layout);
	xmlFreeDoc(doc);
	return ret;
}

static char *path_in(struct job *j, const char *name)
{
	return xasprintf("%s/%s", j->dir, name);
}

static int sha256_file(const char *path, char hex[65], long long *bytes)
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	size_t n;
	int ret = -1;

	*bytes = 0;
	if (!f) {
		error("cannot read \"%s\": %m", path);
		goto out;
	}
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		EVP_DigestUpdate(ctx, buf, n);
		*bytes += (long long)n;
	}
	if (ferror(f)) {
		error("cannot read \"%s\": %m", path);
		goto out;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	ret = 0;
out:
	if (f)
		fclose(f);
	EVP_MD_CTX_free(ctx);
	return ret;
}

/* manifest.json for the files in dir: written only once the batch's codes
 * are recorded, so a folder with a manifest is complete and may be posted. */
static int write_manifest(const char *dir, long long batch, long long letters)
{
	char *path, *man = NULL;
	size_t manlen = 0;
	FILE *m = open_memstream(&man, &manlen);
	int ret = -1;

	if (!m)
		return error("cannot build manifest.json: %m");
	fprintf(m, "{\n  \"batch\": %lld,\n  \"letters\": %lld,\n  \"files\": [", batch, letters);
	for (int i = 0; i < NFILES; i++) {
		char hex[65] = "";
		long long bytes;

		path = xasprintf("%s/%s", dir, file_names[i]);
		ret = sha256_file(path, hex, &bytes);
		free(path);
		if (ret) {
			fclose(m);
			goto out;
		}
		fprintf(m, "%s\n    {\"name\": \"%s\", \"bytes\": %lld, \"sha256\": \"%s\"}",
			i ? "," : "", file_names[i], bytes, hex);
	}
	fputs("\n  ]\n}\n", m);
	fclose(m);
	path = xasprintf("%s/manifest.json", dir);
	ret = atomic_write(path, man, manlen, 0600);
	free(path);
out:
	free(man);
	return ret;
}

/* letters.pdf, registry.json, f103.csv (manifest.json after the record). */
static int write_files(struct job *j)
{
	struct atomic_file af[NFILES];
	struct letter_pdf *pdf = NULL;
	struct progress pg;
	char *path;
	int ret = -1;

	memset(af, 0, sizeof(af));
	if (mkdir_p(j->dir, 0700))
		return -1;
	for (int i = 0; i < NFILES; i++) {
		path = path_in(j, file_names[i]);
		if (atomic_open(&af[i], path, 0600)) {
			free(path);
			goto out;
		}
		free(path);
	}
	pdf = letter_pdf_open(af[0].fp);
	if (!pdf)
		goto out;
	post_json_begin(af[1].fp);
	post_f103_header(af[2].fp);
	progress_start(&pg, "letters", 0);
	while (j->rows) {
		for (int from = 0; from < j->rows; from += CHUNK) {
			int to = from + CHUNK < j->rows ? from + CHUNK : j->rows;

			if (build_chunk(j, pdf, from, to)) {
				progress_end(&pg);
				goto out;
			}
			for (int i = from; i < to; i++) {
				struct post_item it;
				int g = j->base + i;
				char order[48];

				item_of(j->claim, i, &it);
				it.barcode = j->barcodes + (size_t)g * 15;
				it.mass = j->mass;
				snprintf(order, sizeof(order), "%lld-%d", j->b.id, g + 1);
				it.order_num = order;
				post_json_item(af[1].fp, &it, g == 0);
				post_f103_row(af[2].fp, g + 1, &it);
			}
			progress_add(&pg, to - from);
			fault_point("print.mid_pdf");
		}
		if (fetch_next(j)) {
			progress_end(&pg);
			goto out;
		}
	}
	progress_end(&pg);
	post_json_end(af[1].fp);
	if (letter_pdf_close(pdf)) {
		pdf = NULL;
		goto out;
	}
	pdf = NULL;
	for (int i = 0; i < NFILES; i++) {
		if (atomic_commit(&af[i]))
			goto out;
		j->files_written = i + 1;
		if (i == 0)
			fault_point("print.after_pdf");
	}

	ret = 0;
out:
	if (pdf)
		letter_pdf_close(pdf);
	for (int i = 0; i < NFILES; i++)
		atomic_abort(&af[i]);
	return ret;
}

/* Remove what a failed run wrote: its codes were never recorded. */
static void remove_files(struct job *j)
{
	for (int i = 0; i < j->files_written; i++) {
		char *p = path_in(j, file_names[i]);

		unlink(p);
		free(p);
	}
	if (j->dir)
		rmdir(j->dir);
}

/* The folders of print batches that died or failed. Without letters
 * recorded, their codes were never stored and the letters must never be
 * posted: removed (the tracking numbers stay burned). With letters recorded
 * but no manifest.json (a death between the commit and the manifest), the
 * files were complete before the commit: the manifest is all they lack.
 * With letters recorded and no folder at all, the codes are live but
 * cannot be posted: reported. */
static void remove_void_folder(const char *dir, const char *batch)
{
	static const char *const names[] = { "letters.pdf", "registry.json", "f103.csv",
					     "manifest.json" };

	atomic_sweep(dir);
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		char *f = xasprintf("%s/%s", dir, names[k]);

		unlink(f);
		free(f);
	}
	if (rmdir(dir))
		warning("cannot remove the void print folder \"%s\": %m", dir);
	else
		log_event(LOG_LVL_WARN, "print.void_removed", "void_batch=%s", batch);
}

static void complete_folder(const char *dir, const char *batch, long long letters)
{
	char *man = xasprintf("%s/manifest.json", dir);
	struct stat st;

	if (stat(man, &st)) {
		atomic_sweep(dir);
		if (write_manifest(dir, atoll(batch), letters))
			warning("print folder \"%s\" still has no manifest.json", dir);
		else
			log_event(LOG_LVL_WARN, "print.manifest_completed", "completed_batch=%s", batch);
	}
	free(man);
}

static int settle_folders(struct job *j)
{
	PGresult *r = db_query(j->c,
		"SELECT b.id, (SELECT count(*) FROM letters l WHERE l.batch_id = b.id),"
		" (SELECT count(*) FROM letters l JOIN activation_codes k ON k.letter_id = l.id"
		"  WHERE l.batch_id = b.id AND k.status = 'live')"
		" FROM batches b WHERE b.job = 'print-letters' AND b.status IN ('abandoned', 'failed')"
		" ORDER BY b.id", 0, NULL);
	char *spool;

	if (!r)
		return -1;
	spool = cfg_spool(j->cfg, "print");
	for (int i = 0; i < PQntuples(r); i++) {
		const char *batch = PQgetvalue(r, i, 0);
		long long letters = atoll(PQgetvalue(r, i, 1));
		char *dir = xasprintf("%s/%s", spool, batch);
		struct stat st;

		if (!stat(dir, &st)) {
			if (letters)
				complete_folder(dir, batch, letters);
			else
				remove_void_folder(dir, batch);
		} else if (errno == ENOENT && strcmp(PQgetvalue(r, i, 2), "0")) {
			/* live codes whose letters nobody can post: only a reissue
			 * (rerun --force) helps; said on every run until then */
			log_event(LOG_LVL_WARN, "print.folder_missing",
				  "missing_batch=%s letters=%lld live_codes=%s hint=\"esia-batch rerun %s --force\"",
				  batch, letters, PQgetvalue(r, i, 2), batch);
		}
		free(dir);
	}
	free(spool);
	PQclear(r);
	return 0;
}

/* "{a,b,c}" array literal from n strings picked by get. */
static char *array_literal(struct job *j, const char *(*get)(struct job *, int))
{
	struct sbuf b = { 0 };

	for (int i = 0; i < j->n; i++)
		arr_item(&b, get(j, i), 0);
	arr_done(&b);
	return b.s;
}

static const char *get_id(struct job *j, int i)
{
	static char buf[24];

	snprintf(buf, sizeof(buf), "%lld", j->ids[i]);
	return buf;
}

static const char *get_barcode(struct job *j, int i)
{
	return j->barcodes + (size_t)i * 15;
}

static const char *get_mac(struct job *j, int i)
{
	return j->macs + (size_t)i * 65;
}

static int record(struct job *j)
{
	char *ids = array_literal(j, get_id), *bcs = array_literal(j, get_barcode),
	     *macs = array_literal(j, get_mac);
	char batch[24], ttl[24];
	const char *p[6] = { ids, bcs, macs, batch, ttl, strcmp(j->mode, "new") ? "t" : "f" };
	PGresult *r = NULL;
	int ret = -1;

	if (!ids || !bcs || !macs)
		goto out;
	snprintf(batch, sizeof(batch), "%lld", j->b.id);
	snprintf(ttl, sizeof(ttl), "%lld", j->ttl);
	/* a reissue: the old code and letter stop counting. Never in "new"
	 * mode: a live code there is a parallel run's letter (drop_served
	 * keeps those accounts out; activation_codes_one_live refuses any) */
	if (strcmp(j->mode, "new") &&
	    (db_exec(j->c, "UPDATE activation_codes SET status = CASE WHEN expires_at <= now()"
			   " THEN 'expired' ELSE 'revoked' END"
			   " WHERE status = 'live' AND account_id = ANY ($1::bigint[])", 1, p) ||
	     db_exec(j->c, "UPDATE letters SET status = 'revoked'"
			   " WHERE status IN ('printed', 'posted') AND account_id = ANY ($1::bigint[])",
		     1, p)))
		goto out;
	r = db_query(j->c,
		"WITH u AS ("
		"  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY"
		"    AS u (account_id, barcode, mac, page)),"
		" l AS ("
		"  INSERT INTO letters (account_id, batch_id, barcode, page)"
		"  SELECT account_id, $4::bigint, barcode, page FROM u ORDER BY page"
		"  RETURNING id, account_id, barcode),"
		" k AS ("
		"  INSERT INTO activation_codes (account_id, letter_id, code_hmac, expires_at)"
		"  SELECT l.account_id, l.id, decode(u.mac, 'hex'),"
		/* ::timestamp: a bare date would become a timestamptz in the
		 * session's zone, and the code would end hours off midnight */
		"    ((((now() + $5::bigint * interval '1 second') AT TIME ZONE 'Europe/Moscow')::date + 1)"
		"      ::timestamp AT TIME ZONE 'Europe/Moscow')"
		"  FROM l JOIN u USING (account_id) RETURNING 1),"
		" e AS ("
		"  INSERT INTO audit_events (event, account_id, batch_id, details)"
		"  SELECT 'letter_printed', l.account_id, $4::bigint,"
		"    jsonb_build_object('letter', l.id, 'tracking', l.barcode, 'reissue', $6::bool)"
		"  FROM l RETURNING 1)"
		" SELECT count(*), coalesce(enqueue_notices('letter_sent', array_agg(l.account_id),"
		"   array_agg('letter_sent:' || l.id), array_agg(jsonb_build_object('tracking', l.barcode)),"
		"   $4::bigint), 0)"
		" FROM l", 6, p);
	if (!r)
		goto out;
	if (atoi(PQgetvalue(r, 0, 0)) != j->n) {
		error("recorded %s letters for %d claimed accounts", PQgetvalue(r, 0, 0), j->n);
		goto out;
	}
	j->b.records = j->n;
	if (batch_update_counts(j->c, &j->b))
		goto out;
	fault_point("print.before_commit");
	j->commit_sent = 1;
	if (db_commit(j->c))
		goto out;
	log_event(LOG_LVL_INFO, "print.recorded", "letters=%d notices=%s", j->n, PQgetvalue(r, 0, 1));
	ret = 0;
out:
	PQclear(r);
	free(ids);
	free(bcs);
	free(macs);
	return ret;
}

/* --account ID found nothing to print: say why. */
static void explain_account(struct job *j)
{
	char id[24], *why;
	const char *p[1] = { id };

	snprintf(id, sizeof(id), "%lld", j->account);
	why = db_scalar(j->c,
		"SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM accounts WHERE id = $1::bigint)"
		"  THEN 'no such account'"
		" WHEN (SELECT level FROM accounts WHERE id = $1::bigint) <> 'standard'"
		"  THEN 'account level is ' || (SELECT level FROM accounts WHERE id = $1::bigint)"
		"       || ', not standard'"
		" WHEN (SELECT confirm_method FROM accounts WHERE id = $1::bigint) IS DISTINCT FROM 'mail'"
		"  THEN 'account did not choose confirmation by mail'"
		" WHEN (SELECT address_problem FROM accounts WHERE id = $1::bigint) IS NOT NULL"
		"  THEN 'address problem: ' || (SELECT address_problem FROM accounts WHERE id = $1::bigint)"
		" ELSE 'account is being printed by another run' END", 1, p);
	if (why)
		error("account %lld: cannot print a letter: %s", j->account, why);
	free(why);
}

static int parse_args(struct job *j, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		long long v;

		if (i + 1 < argc && !strcmp(argv[i], "--limit") && !parse_int(argv[i + 1], &v) && v > 0)
			j->limit = v, i++;
		else if (i + 1 < argc && !strcmp(argv[i], "--account") && !parse_int(argv[i + 1], &v) &&
			 v > 0)
			j->account = v, i++;
		else
			return usage_error(usage, "unknown or incomplete option \"%s\"", argv[i]);
	}
	return 0;
}

static int setup(struct job *j)
{
	long long max = cfg_int(j->cfg, "letters", "max_per_batch");

	j->nranges = tracking_parse_ranges(cfg_str(j->cfg, "letters", "tracking_ranges"), &j->ranges);
	if (j->nranges < 0)
		return -1;
	if (!*cfg_str(j->cfg, "letters", "hmac_key"))
		return error("[letters] hmac_key is not set");
	j->key = (unsigned char *)cfg_secret(j->cfg, "letters", "hmac_key", &j->keylen);
	if (!j->key)
		return -1;
	if (j->keylen < 32)
		return error("[letters] hmac_key: the key file must hold at least 32 bytes");
	j->ttl = cfg_dur(j->cfg, "letters", "code_ttl");
	j->mass = (int)cfg_int(j->cfg, "letters", "mass");
	if (max <= 0 || j->ttl <= 0 || j->mass <= 0)
		return error("[letters] max_per_batch, code_ttl and mass must be positive");
	if (!j->limit || j->limit > max)
		j->limit = max;
	if (j->account)
		j->mode = "account";
	else if (j->ctx->rerun_of)
		j->mode = "rerun";
	else
		j->mode = "new";
	return 0;
}

/* Whose letters a rerun reissues: the accounts of the batch it reruns
 * ($1 = j->account). A batch that recorded none died before its commit; if
 * it was itself a rerun (a reissue), that reissue is still owed: follow
 * rerun_of to the batch that holds letters, less the accounts printed for
 * after the dead one (a later reissue or --account gave them newer letters,
 * which are not to be voided). Only a chain ending in a plain run without
 * letters becomes a plain run: its accounts still have no live code. */
static int rerun_source(struct job *j)
{
	char id[24];
	const char *p[1] = { id };
	PGresult *r;

	snprintf(id, sizeof(id), "%lld", j->ctx->rerun_of);
	r = db_query(j->c,
		"WITH RECURSIVE chain (id, rerun_of, has) AS ("
		"  SELECT id, rerun_of, EXISTS (SELECT 1 FROM letters l WHERE l.batch_id = b.id)"
		"  FROM batches b WHERE id = $1::bigint"
		"  UNION ALL"
		"  SELECT b.id, b.rerun_of, EXISTS (SELECT 1 FROM letters l WHERE l.batch_id = b.id)"
		"  FROM chain c JOIN batches b ON b.id = c.rerun_of WHERE NOT c.has)"
		" SELECT c.id, (SELECT count(DISTINCT l.account_id) FROM letters l"
		"   WHERE l.batch_id = c.id AND EXISTS (SELECT 1 FROM letters n"
		"    WHERE n.account_id = l.account_id AND n.batch_id > $1::bigint))"
		" FROM chain c WHERE c.has", 1, p);
	if (!r)
		return -1;
	snprintf(j->scope, sizeof(j->scope), "%s",
		 "a.id IN (SELECT account_id FROM letters WHERE batch_id = $1::bigint)");
	if (!PQntuples(r)) {
		log_event(LOG_LVL_INFO, "print.rerun_empty", "rerun_of=%lld", j->ctx->rerun_of);
		j->mode = "new";
	} else {
		j->account = atoll(PQgetvalue(r, 0, 0));
		if (j->account != j->ctx->rerun_of) {
			snprintf(j->scope + strlen(j->scope), sizeof(j->scope) - strlen(j->scope),
				 " AND NOT EXISTS (SELECT 1 FROM letters n WHERE n.account_id = a.id"
				 " AND n.batch_id > %lld)", j->ctx->rerun_of);
			log_event(LOG_LVL_INFO, "print.rerun_reissue",
				  "rerun_of=%lld reissue_of=%lld printed_since=%s", j->ctx->rerun_of,
				  j->account, PQgetvalue(r, 0, 1));
		}
	}
	PQclear(r);
	return 0;
}

CMD(cmd_print_letters)
{
	struct job j;
	char *params = NULL, *spool = NULL;
	const char *fail = "failed";
	int ret = EXIT_FAILED, rc;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	memset(&j, 0, sizeof(j));
	j.ctx = ctx;
	if ((rc = parse_args(&j, argc, argv)))
		return rc;
	j.cfg = ctx_config(ctx);
	if (!j.cfg || setup(&j))
		goto out;
	j.c = db_connect(j.cfg);
	if (!j.c) {
		ret = EXIT_TEMPFAIL;
		goto out;
	}
	params = batch_params_argv(argc, argv, ctx->parallel);
	rc = batch_start(j.c, &j.b, "print-letters", NULL,
			 ctx->parallel ? LOCK_SHARED_WORK : LOCK_EXCLUSIVE, params, ctx->rerun_of);
	if (rc) {
		ret = rc == EXIT_TEMPFAIL ? EXIT_TEMPFAIL : EXIT_FAILED;
		goto out;
	}
	if (!strcmp(j.mode, "rerun") && rerun_source(&j))
		goto fail;

	/* claim */
	if (settle_folders(&j) || flag_addresses(&j) || claim(&j))
		goto fail;
	if (!j.n) {
		db_rollback(j.c);
		if (!strcmp(j.mode, "account")) {
			explain_account(&j);
			j.b.rejected++;
		}
		if (ctx->json)
			printf("{\"batch\":%lld,\"letters\":0,\"rejected\":%lld}\n", j.b.id,
			       j.b.rejected);
		else if (log_verbosity() >= 0 && !j.b.rejected)
			puts("nothing to print");
		ret = j.b.rejected ? EXIT_DATAERR : 0;
		batch_finish(j.c, &j.b, j.b.rejected ? "partial" : "succeeded",
			     j.b.rejected ? "accounts skipped: see accounts.address_problem" : NULL);
		goto out;
	}

	/* build and write (fetching and burning as it goes) */
	spool = cfg_spool(j.cfg, "print");
	j.dir = xasprintf("%s/%lld", spool, j.b.id);
	if (write_files(&j))
		goto fail;
	fault_point("print.after_files");

	/* record */
	if (record(&j))
		goto fail;
	/* the codes are stored: from here on the files are kept whatever fails */
	fault_point("print.before_manifest");
	if (write_manifest(j.dir, j.b.id, j.n)) {
		batch_finish(j.c, &j.b, "failed",
			     "letters recorded but manifest.json not written: the next run writes it");
		goto out;
	}
	fault_point("print.after_commit");
	ret = j.b.rejected ? EXIT_DATAERR : 0;
	batch_finish(j.c, &j.b, j.b.rejected ? "partial" : "succeeded",
		     j.b.rejected ? "accounts skipped: see accounts.address_problem" : NULL);
	if (ctx->json) {
		printf("{\"batch\":%lld,\"letters\":%d,\"rejected\":%lld,\"dir\":", j.b.id, j.n,
		       j.b.rejected);
		json_print_str(stdout, j.dir);
		puts("}");
	} else if (log_verbosity() >= 0)
		printf("batch %lld: %d letters in %s%s\n", j.b.id, j.n, j.dir,
		       j.b.rejected ? " (some accounts skipped: address problems)" : "");
	goto out;

fail:
	if (db_is_down(j.c) || j.c2_failed)
		ret = EXIT_TEMPFAIL;
	db_rollback(j.c);
	/* A COMMIT lost with the connection may still have committed: then
	 * these files are the only print of codes now live. Keep them; the
	 * next run removes the folder unless the database holds its letters
	 * (settle_folders). A COMMIT the server refused committed nothing. */
	if (!j.commit_sent || !db_is_down(j.c))
		remove_files(&j);
	batch_finish(j.c, &j.b, fail, "print-letters failed: see the log");
out:
	if (j.macs)
		OPENSSL_cleanse(j.macs, (size_t)j.n * 65);
	if (j.key)
		OPENSSL_cleanse(j.key, j.keylen);
	free(j.key);
	free(j.ranges);
	free(j.barcodes);
	free(j.macs);
	free(j.ids);
	free(j.dir);
	free(spool);
	free(params);
	PQclear(j.claim);
	if (j.c2)
		PQfinish(j.c2);
	if (j.c)
		PQfinish(j.c);
	return ret;
}
