/* esia-batch audit: the auditor's verbs over the archive folder alone (no
 * database): list archives and their packets, show one packet streamed out of
 * its archive, verify archives (hashes, manifest signature, packet
 * signatures, the hash chain). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cms.h"
#include "esia-batch.h"
#include "json.h"
#include "log.h"
#include "manifest.h"
#include "safexml.h"
#include "validate.h"
#include "xmlsig.h"
#include "xslt.h"

static const char usage[] =
	"esia-batch audit list [--from DATE] [--to DATE] [--agency A] [--json]\n"
	"       esia-batch audit show PACKET_ID [--format xml|text]\n"
	"       esia-batch audit verify [--head SHA256] [ARCHIVE...]\n"
	"       (each also takes --archive-dir DIR; show and verify take --manifest-trust FILE\n"
	"       and --trust FILE)";

static const char help[] =
	"usage: esia-batch audit list [--from DATE] [--to DATE] [--agency A] [--json]\n"
	"       esia-batch audit show PACKET_ID [--format xml|text]\n"
	"       esia-batch audit verify [--head SHA256] [ARCHIVE...]\n"
	"\n"
	"Read-only, offline: works from the archive folder alone, no database.\n"
	"\n"
	"  list    archives in chain order with the packets in each. --from/--to\n"
	"          (YYYY-MM-DD, inclusive) filter on the day the batch finished (UTC);\n"
	"          --agency pfr|fms keeps archives holding that agency's packets.\n"
	"  show    stream one packet (by PacketId, or a member path such as\n"
	"          rejected/pfr/x.xml) out of its archive to stdout, byte for byte\n"
	"          (--format xml, the default) or as a readable table (--format text,\n"
	"          formats/audit-packet.xsl). Integrity and signature status go to stderr.\n"
	"  verify  for each archive (default: all, in chain order): recompute every\n"
	"          size and SHA-256 against MANIFEST, check MANIFEST.p7s, check every\n"
	"          packet's XML signature (requests against the manifest trust anchor,\n"
	"          answers in processed/ against the agencies'; rejected packets are not\n"
	"          held to it), and check the chain: positions 1..N with no gap, each\n"
	"          archive's prev = SHA-256 of the one before. One line per archive:\n"
	"          \"OK path ...\" or \"FAIL path: what failed\".\n"
	"          The manifest signer must be O= [signer] sender (ESIA). Every\n"
	"          certificate is judged as of the archive's signed creation time, so\n"
	"          archives outlive the certificates that signed them.\n"
	"          The chain cannot show that its newest archives were removed: when the\n"
	"          whole chain verifies, stderr ends with \"chain head: position N, PATH,\n"
	"          sha256 X\"; record X outside the folder, and a later --head X\n"
	"          fails unless the archive with that SHA-256 is still in the chain\n"
	"          (archive.written in the archive job's log names each new head too).\n"
	"          An archive named on the command line is also checked against the\n"
	"          next one's prev link. Every member must be a plain file (no links).\n"
	"\n"
	"Options:\n"
	"  --archive-dir DIR  archive folder (default: [spool] archive)\n"
	"  --manifest-trust FILE\n"
	"                     the project's (ESIA) CA certificate(s) alone: anchor for\n"
	"                     manifests and requests (default: [archive] trust_anchor).\n"
	"                     Required; refused if it holds a CA that --trust also holds.\n"
	"  --trust FILE       the agencies' CA certificate(s): anchor for answers only\n"
	"                     (default: [pfr]/[fms] trust_anchor). Never used for manifests,\n"
	"                     so an agency's CA cannot vouch for a manifest.\n"
	"\n"
	"Exit: 0 all good, 1 failed (e.g. no trust anchor, packet not found), 2 usage,\n"
	"65 something did not verify.\n";

struct opts {
	const char *dir, *from, *to, *agency, *format;
	const char *mtrust; /* the project's CA: manifests and requests */
	const char *trust;  /* the agencies' CAs: answers */
	const char *head; /* verify: SHA-256 of an archive recorded earlier */
	int json;
	struct config *cfg;
};

struct arc {
	char *abs, *rel;
	struct manifest m;
	int ok;     /* manifest read and parsed */
	char *err;  /* why not */
	char *mtext;
	size_t mlen;
	unsigned char *sig;
	size_t siglen;
	char sha[65]; /* of the archive file; "" until computed */
};

struct index {
	struct arc *v;
	size_t n;
};

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a > b && !strcmp(s + a - b, suf);
}

static void load_one(struct arc *a, const char *abs, const char *rel)
{
	char why[300];
	struct arc_reader *r;

	memset(a, 0, sizeof(*a));
	manifest_init(&a->m);
	a->abs = xstrdup(abs);
	a->rel = xstrdup(rel);
	r = arc_open(abs, &a->mtext, &a->mlen, &a->sig, &a->siglen, why, sizeof(why));
	if (!r) {
		a->err = xstrdup(why);
		return;
	}
	arc_close(r);
	if (manifest_parse(&a->m, a->mtext, a->mlen, why, sizeof(why))) {
		a->err = xasprintf("MANIFEST: %s", why);
		return;
	}
	a->ok = 1;
}

static void scan(struct index *ix, const char *dir, const char *rel, int depth)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		char *abs = xasprintf("%s/%s", dir, nm);
		char *r = *rel ? xasprintf("%s/%s", rel, nm) : xstrdup(nm);
		struct stat st;

		if (nm[0] != '.' && !stat(abs, &st)) {
			if (S_ISDIR(st.st_mode) && depth < 3) {
				scan(ix, abs, r, depth + 1);
			} else if (S_ISREG(st.st_mode) &&
				   (has_suffix(nm, ".tar.xz") || has_suffix(nm, ".tar.zst"))) {
				ix->v = xrealloc(ix->v, (ix->n + 1) * sizeof(*ix->v));
				load_one(&ix->v[ix->n++], abs, r);
			}
		}
		free(abs);
		free(r);
		free(names[i]);
	}
	free(names);
}

static int by_seq(const void *x, const void *y)
{
	const struct arc *a = x, *b = y;

	if (a->ok != b->ok)
		return a->ok ? -1 : 1;
	if (a->m.seq != b->m.seq)
		return a->m.seq < b->m.seq ? -1 : 1;
	return strcmp(a->rel, b->rel);
}

static int index_load(struct index *ix, const char *dir)
{
	struct stat st;

	memset(ix, 0, sizeof(*ix));
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return error("cannot open archive folder \"%s\": %s", dir,
			     errno ? strerror(errno) : "not a folder");
	scan(ix, dir, "", 0);
	if (ix->n)
		qsort(ix->v, ix->n, sizeof(*ix->v), by_seq);
	return 0;
}

static void arc_release(struct arc *a)
{
	free(a->abs);
	free(a->rel);
	free(a->err);
	free(a->mtext);
	free(a->sig);
	manifest_release(&a->m);
}

static void index_release(struct index *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		arc_release(&ix->v[i]);
	free(ix->v);
}

/* Options shared by the verbs; positional arguments are collected in pos. */
static int parse_opts(int argc, char **argv, struct opts *o, char ***pos, int *npos)
{
	*pos = xcalloc(argc + 1, sizeof(char *));
	*npos = 0;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;

		if (!strcmp(a, "--archive-dir"))
			slot = &o->dir;
		else if (!strcmp(a, "--trust"))
			slot = &o->trust;
		else if (!strcmp(a, "--manifest-trust"))
			slot = &o->mtrust;
		else if (!strcmp(a, "--from"))
			slot = &o->from;
		else if (!strcmp(a, "--to"))
			slot = &o->to;
		else if (!strcmp(a, "--agency"))
			slot = &o->agency;
		else if (!strcmp(a, "--format"))
			slot = &o->format;
		else if (!strcmp(a, "--head"))
			slot = &o->head;
		else if (!strcmp(a, "--json"))
			o->json = 1;
		else if (a[0] == '-' && a[1])
			return usage_error(usage, "unknown option \"%s\"", a);
		else
			(*pos)[(*npos)++] = argv[i];
		if (slot) {
			if (i + 1 == argc)
				return usage_error(usage, "%s needs a value", a);
			*slot = argv[++i];
		}
	}
	return 0;
}

/* Only the project's CA anchors manifests (and requests, signed by the same
 * signer): never --trust, which holds the agencies' CAs, so that an agency's
 * CA cannot vouch for a certificate with O=ESIA that re-signs a chain. */
static const char *manifest_trust(const struct opts *o)
{
	return o->mtrust ? o->mtrust : cfg_str(o->cfg, "archive", "trust_anchor");
}

/* The anchor for one agency's answers. */
static const char *agency_trust(const struct opts *o, const char *ag)
{
	return o->trust ? o->trust : cfg_str(o->cfg, ag, "trust_anchor");
}

/* Before anything is read: the manifest anchor is set, readable, and shares
 * no certificate with an agency's anchor (the old one-bundle usage,
 * --trust CAS.pem, would let the agencies' CAs vouch for manifests). */
static int check_anchors(const struct opts *o)
{
	static const char *const ags[] = { "pfr", "fms" };
	const char *mt = manifest_trust(o);
	char subj[256];

	if (!*mt)
		return error("no trust anchor for manifests: give the project's (ESIA) CA with"
			     " --manifest-trust FILE or set [archive] trust_anchor%s",
			     o->trust ? " (--trust is for the agencies' answers only)" : "");
	if (access(mt, R_OK))
		return error("cannot read trust anchor \"%s\": %s", mt, strerror(errno));
	for (size_t i = 0; i < sizeof(ags) / sizeof(*ags); i++)
		if (cms_anchor_shared(mt, agency_trust(o, ags[i]), subj, sizeof(subj)))
			return error("the manifest trust anchor \"%s\" holds %s, which is also trusted"
				     " for %s answers (\"%s\"); give the project's CA alone",
				     mt, subj, ags[i], agency_trust(o, ags[i]));
	return 0;
}

/* Which trust anchor and organisation a member's signature is held to;
 * 0 = not a signed packet held to a signature (print files, rejected). */
static int packet_policy(const struct opts *o, const char *path, const char **trust,
			 char *org, size_t n)
{
	char ag[16];

	if (!has_suffix(path, ".xml"))
		return 0;
	if (!strncmp(path, "outbox/", 7)) {
		*trust = manifest_trust(o);
		snprintf(org, n, "%s", cfg_str(o->cfg, "signer", "sender"));
		return 1;
	}
	if (!strncmp(path, "processed/", 10) && *manifest_agency(path, ag, sizeof(ag)) &&
	    (!strcmp(ag, "pfr") || !strcmp(ag, "fms"))) {
		*trust = agency_trust(o, ag);
		for (size_t i = 0; ag[i] && i + 1 < n; i++)
			org[i] = toupper((unsigned char)ag[i]), org[i + 1] = '\0';
		return 1;
	}
	return 0;
}

/* Check one packet's XML-DSig; 0 valid, -1 with why. */
static int packet_sig(const char *buf, size_t len, const char *name, const char *trust,
		      const char *org, long long at, char *why, size_t n)
{
	xmlDocPtr doc;
	int ret;

	if (!trust || !*trust) {
		snprintf(why, n, "no trust anchor configured for it");
		return -1;
	}
	doc = safexml_read_mem(buf, len, MANIFEST_MAX_BYTES, name, why, n);
	if (!doc)
		return -1;
	/* not [AGENCY] signer_subject: that pins today's certificate, and an
	 * archived answer was signed under the one of its day (import held it
	 * to the subject configured then) */
	ret = xmlsig_verify_at(doc, trust, org, NULL, at, why, n);
	xmlFreeDoc(doc);
	return ret;
}

struct verify_ctx {
	const struct opts *o;
	struct strlist *fails;
	int packets;
	long long at; /* the archive's signed creation time: certificates are judged as of then */
};

static void verify_member(void *arg, const char *path, const char *buf, size_t len, int hash_ok)
{
	struct verify_ctx *v = arg;
	const char *trust = NULL;
	char org[16], why[300];

	(void)hash_ok;
	if (!buf || !packet_policy(v->o, path, &trust, org, sizeof(org)))
		return;
	v->packets++;
	if (packet_sig(buf, len, path, trust, org, v->at, why, sizeof(why)))
		strlist_add(v->fails, "packet %s: signature: %s", path, why);
}

/* Manifests are signed by the project: O= of [signer] sender (default ESIA). */
static const char *manifest_org(const struct opts *o)
{
	return cfg_str(o->cfg, "signer", "sender");
}

/* When the archive was made, by its signed MANIFEST: the signer's
 * certificate is checked as of then. 0 (= now) if unreadable. */
static long long made_at(const struct arc *a)
{
	struct tm tm = { 0 };
	const char *end = a->m.created ? strptime(a->m.created, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;

	return end && !*end ? (long long)timegm(&tm) : 0;
}

/* The chain link into a: its predecessor by position must exist, be unique
 * and have the SHA-256 that a's MANIFEST names. */
static void check_link(struct index *ix, struct arc *a, struct strlist *fails)
{
	struct arc *pred = NULL;
	int npred = 0;

	for (size_t i = 0; i < ix->n; i++) {
		struct arc *b = &ix->v[i];

		if (b == a || !b->ok)
			continue;
		if (b->m.seq == a->m.seq && strcmp(b->abs, a->abs))
			strlist_add(fails, "chain: position %lld is also claimed by %s", a->m.seq, b->rel);
		if (b->m.seq == a->m.seq - 1) {
			npred++;
			if (!b->sha[0] && sha256_file(b->abs, b->sha, NULL))
				continue;
			if (!strcmp(b->sha, a->m.prev))
				pred = b;
		}
	}
	if (a->m.seq == 1) {
		if (strcmp(a->m.prev, "none"))
			strlist_add(fails, "chain: first archive but prev is %.12s...", a->m.prev);
		return;
	}
	if (!strcmp(a->m.prev, "none"))
		strlist_add(fails, "chain: position %lld has no prev link", a->m.seq);
	else if (!npred)
		strlist_add(fails, "chain: archive at position %lld (sha256 %.12s...) is missing",
			    a->m.seq - 1, a->m.prev);
	else if (!pred) {
		for (size_t i = 0; i < ix->n; i++)
			if (ix->v[i].ok && ix->v[i].m.seq == a->m.seq - 1) {
				strlist_add(fails, "chain: prev link %.12s... does not match %s"
						   " (position %lld, sha256 %.12s...)",
					    a->m.prev, ix->v[i].rel, a->m.seq - 1, ix->v[i].sha);
				break;
			}
	}
}

/* Verifying one archive by name: the archive after it (where there is one)
 * must link to it too, or a replaced archive that is consistent in itself
 * would pass. */
static void check_next(struct index *ix, struct arc *a, struct strlist *fails)
{
	for (size_t i = 0; i < ix->n; i++) {
		struct arc *b = &ix->v[i];

		if (!b->ok || b->m.seq != a->m.seq + 1)
			continue;
		if (!a->sha[0] && sha256_file(a->abs, a->sha, NULL))
			return;
		if (strcmp(b->m.prev, a->sha))
			strlist_add(fails, "chain: the next archive %s (position %lld) links to prev"
					   " %.12s..., not to this one (sha256 %.12s...)",
				    b->rel, b->m.seq, b->m.prev, a->sha);
	}
}

static int verify_one(struct index *ix, struct arc *a, const struct opts *o, int named)
{
	struct strlist fails = { 0 };
	struct verify_ctx v = { o, &fails, 0, made_at(a) };
	char why[300], who[256] = "", *all, num[32];
	const char *base;
	int good;

	if (!a->ok) {
		print_line(stdout, "FAIL %s: %s", a->rel, a->err);
		return 0;
	}
	/* the name says which batch; the MANIFEST must agree */
	base = strrchr(a->rel, '/');
	base = base ? base + 1 : a->rel;
	snprintf(num, sizeof(num), "%lld.tar.", a->m.batch);
	if (strncmp(base, num, strlen(num)))
		strlist_add(&fails, "MANIFEST names batch %lld, not the archive's file name", a->m.batch);
	if (cms_verify(a->sig, a->siglen, a->mtext, a->mlen, manifest_trust(o), made_at(a),
		       manifest_org(o), who, sizeof(who), why, sizeof(why))) {
		strlist_add(&fails, "MANIFEST.p7s: %s", why);
	} else {
		/* only a signed MANIFEST is worth holding the files to: an
		 * unsigned one could be anything, its archive a bomb */
		char *m = NULL;
		unsigned char *s = NULL;
		size_t ml, sl;
		struct arc_reader *r = arc_open(a->abs, &m, &ml, &s, &sl, why, sizeof(why));

		if (!r)
			strlist_add(&fails, "%s", why);
		else
			arc_check_members(r, &a->m, verify_member, &v, &fails);
		arc_close(r);
		free(m);
		free(s);
	}
	check_link(ix, a, &fails);
	if (named)
		check_next(ix, a, &fails);
	if (fails.n) {
		all = strlist_join(&fails, "; ");
		print_line(stdout, "FAIL %s: %s", a->rel, all);
		free(all);
	} else {
		print_line(stdout, "OK   %s: position %lld, batch %lld (%s), %zu files, %d packet signatures,"
			   " manifest signed by %s",
			   a->rel, a->m.seq, a->m.batch, a->m.job, a->m.nfiles, v.packets, who);
	}
	good = !fails.n;
	strlist_release(&fails);
	return good;
}

static int cmd_verify(struct opts *o, char **pos, int npos)
{
	struct index ix;
	int bad = 0, checked = 0, ret = EXIT_FAILED;

	if (check_anchors(o))
		return EXIT_FAILED;
	if (index_load(&ix, o->dir))
		return EXIT_FAILED;
	if (!npos) {
		for (size_t i = 0; i < ix.n; i++, checked++)
			bad += !verify_one(&ix, &ix.v[i], o, 0);
	}
	for (int k = 0; k < npos; k++) {
		char *real = realpath(pos[k], NULL);
		struct arc *found = NULL;

		if (!real) {
			char *p2 = xasprintf("%s/%s", o->dir, pos[k]);

			real = realpath(p2, NULL);
			free(p2);
		}
		if (!real) {
			print_line(stdout, "FAIL %s: no such archive", pos[k]);
			bad++;
			continue;
		}
		for (size_t i = 0; i < ix.n && !found; i++) {
			char *r2 = realpath(ix.v[i].abs, NULL);

			if (r2 && !strcmp(r2, real))
				found = &ix.v[i];
			free(r2);
		}
		if (found) {
			bad += !verify_one(&ix, found, o, 1);
		} else {
			/* outside the folder: checked against the folder's chain */
			struct arc extra;

			load_one(&extra, real, pos[k]);
			bad += !verify_one(&ix, &extra, o, 1);
			arc_release(&extra);
		}
		checked++;
		free(real);
	}
	/* The chain proves nothing is missing before its newest archive; that
	 * the newest ones were not removed needs a head recorded outside the
	 * folder (an earlier verify's "chain head" line, or archive.written in
	 * the job's log). */
	if (o->head) {
		size_t i;

		for (i = 0; i < ix.n; i++)
			if ((ix.v[i].sha[0] || !sha256_file(ix.v[i].abs, ix.v[i].sha, NULL)) &&
			    !strcmp(ix.v[i].sha, o->head))
				break;
		if (i == ix.n) {
			printf("FAIL chain: no archive has sha256 %.12s... (the head given): archives were"
			       " removed from the end of the chain or replaced\n", o->head);
			bad++;
		} else if (!npos) {
			print_line(stdout, "OK   chain: %s (sha256 %.12s...) is in the chain, at position %lld of %lld",
				   ix.v[i].rel, o->head, ix.v[i].m.seq, ix.v[ix.n - 1].m.seq);
		}
	}
	if (!checked) {
		printf("no archives in %s\n", o->dir);
	} else {
		struct arc *h = ix.n ? &ix.v[ix.n - 1] : NULL;

		fprintf(stderr, "%d archive%s checked, %d failed\n", checked, checked == 1 ? "" : "s", bad);
		/* a head worth recording is one whose whole chain verified */
		if (!bad && !npos && h && h->ok && (h->sha[0] || !sha256_file(h->abs, h->sha, NULL)))
			print_line(stderr, "chain head: position %lld, %s, sha256 %s", h->m.seq, h->rel, h->sha);
	}
	ret = bad ? EXIT_DATAERR : 0;
	index_release(&ix);
	return ret;
}

static int packet_matches(const struct manifest_packet *p, const char *agency)
{
	char ag[16];

	return !agency || !strcmp(manifest_agency(p->path, ag, sizeof(ag)), agency);
}

static int cmd_list(struct opts *o)
{
	struct index ix;
	int first = 1, y, m, d;

	if (o->from && valid_date(o->from, &y, &m, &d))
		return usage_error(usage, "--from wants YYYY-MM-DD, not \"%s\"", o->from);
	if (o->to && valid_date(o->to, &y, &m, &d))
		return usage_error(usage, "--to wants YYYY-MM-DD, not \"%s\"", o->to);
	if (index_load(&ix, o->dir))
		return EXIT_FAILED;
	if (o->json)
		putchar('[');
	else if (ix.n)
		printf("%-28s %5s %8s  %-16s %-20s %5s\n", "ARCHIVE", "SEQ", "BATCH", "JOB", "FINISHED",
		       "FILES");
	for (size_t i = 0; i < ix.n; i++) {
		struct arc *a = &ix.v[i];
		int any = 0;

		if (!a->ok) {
			warning("cannot read archive \"%s\": %s", a->rel, a->err);
			continue;
		}
		if ((o->from && strncmp(a->m.finished, o->from, 10) < 0) ||
		    (o->to && strncmp(a->m.finished, o->to, 10) > 0))
			continue;
		for (size_t k = 0; k < a->m.npackets; k++)
			any |= packet_matches(&a->m.packets[k], o->agency);
		if (o->agency && !any)
			continue;
		if (o->json) {
			printf("%s{\"archive\":", first ? "" : ",");
			json_print_str(stdout, a->rel);
			printf(",\"seq\":%lld,\"batch\":%lld,\"job\":", a->m.seq, a->m.batch);
			json_print_str(stdout, a->m.job);
			fputs(",\"finished\":", stdout);
			json_print_str(stdout, a->m.finished);
			fputs(",\"created\":", stdout);
			json_print_str(stdout, a->m.created);
			printf(",\"files\":%zu,\"prev\":\"%s\",\"packets\":[", a->m.nfiles, a->m.prev);
			for (size_t k = 0, pf = 1; k < a->m.npackets; k++) {
				char ag[16];

				if (!packet_matches(&a->m.packets[k], o->agency))
					continue;
				printf("%s{\"id\":", pf ? "" : ",");
				json_print_str(stdout, a->m.packets[k].id);
				fputs(",\"agency\":", stdout);
				json_print_str(stdout, manifest_agency(a->m.packets[k].path, ag, sizeof(ag)));
				fputs(",\"path\":", stdout);
				json_print_str(stdout, a->m.packets[k].path);
				putchar('}');
				pf = 0;
			}
			fputs("]}", stdout);
		} else {
			/* names from the archive folder: escaped, padded by characters */
			print_cell(stdout, a->rel, SIZE_MAX, 28);
			printf(" %5lld %8lld  ", a->m.seq, a->m.batch);
			print_cell(stdout, a->m.job, SIZE_MAX, 16);
			putchar(' ');
			print_cell(stdout, a->m.finished, SIZE_MAX, 20);
			printf(" %5zu\n", a->m.nfiles);
			for (size_t k = 0; k < a->m.npackets; k++) {
				char ag[16];

				if (packet_matches(&a->m.packets[k], o->agency))
					print_line(stdout, "    packet %s  %-3s  %s", a->m.packets[k].id,
						   manifest_agency(a->m.packets[k].path, ag, sizeof(ag)),
						   a->m.packets[k].path);
			}
		}
		first = 0;
	}
	if (o->json)
		puts("]");
	else if (first)
		printf("no archives%s in %s\n", o->from || o->to || o->agency ? " match" : "", o->dir);
	index_release(&ix);
	return 0;
}

static int cmd_show(struct opts *o, const char *want)
{
	struct index ix;
	struct arc *a = NULL;
	const char *member = NULL, *trust = NULL;
	const struct manifest_file *mf;
	struct arc_reader *r = NULL;
	char *mt = NULL, *buf = NULL, sha[65], why[300], who[256], org[16], id[64], ag[16];
	unsigned char *sg = NULL;
	size_t ml, sl, len = 0;
	int ret = EXIT_FAILED, bad = 0;

	if (strcmp(o->format, "xml") && strcmp(o->format, "text"))
		return usage_error(usage, "--format is xml or text, not \"%s\"", o->format);
	snprintf(id, sizeof(id), "%s", want);
	for (char *s = id; *s; s++)
		*s = tolower((unsigned char)*s);
	/* like verify: a packet is not shown as from the archive unchecked */
	if (check_anchors(o))
		return EXIT_FAILED;
	if (index_load(&ix, o->dir))
		return EXIT_FAILED;
	/* by PacketId first, then by member path */
	for (size_t i = 0; i < ix.n && !member; i++)
		for (size_t k = 0; ix.v[i].ok && k < ix.v[i].m.npackets && !member; k++)
			if (!strcmp(ix.v[i].m.packets[k].id, id)) {
				a = &ix.v[i];
				member = a->m.packets[k].path;
			}
	for (size_t i = 0; i < ix.n && !member; i++)
		if (ix.v[i].ok && manifest_find(&ix.v[i].m, want)) {
			a = &ix.v[i];
			member = manifest_find(&a->m, want)->path;
		}
	if (!member) {
		error("packet \"%s\" is in no archive in %s", want, o->dir);
		goto out;
	}
	mf = manifest_find(&a->m, member);
	print_line(stderr, "packet %s: %s in %s (batch %lld, position %lld)", want, member, a->rel,
		   a->m.batch, a->m.seq);
	if (packet_policy(o, member, &trust, org, sizeof(org)) && (!trust || !*trust)) {
		error("no trust anchor for %s answers: set [%s] trust_anchor or use --trust FILE",
		      org, manifest_agency(member, ag, sizeof(ag)));
		goto out;
	}
	r = arc_open(a->abs, &mt, &ml, &sg, &sl, why, sizeof(why));
	if (!r) {
		error("cannot read \"%s\": %s", a->rel, why);
		goto out;
	}
	if (arc_extract(r, member, MANIFEST_MAX_BYTES, &buf, &len, sha)) {
		error("\"%s\" is listed in the MANIFEST of \"%s\" but cannot be read from it", member,
		      a->rel);
		goto out;
	}
	if (!mf || (long long)len != mf->size || strcmp(sha, mf->sha256)) {
		fprintf(stderr, "integrity: FAILED: sha256 %s does not match MANIFEST\n", sha);
		bad = 1;
	} else {
		fprintf(stderr, "integrity: sha256 %s matches MANIFEST\n", sha);
	}
	if (cms_verify(a->sig, a->siglen, a->mtext, a->mlen, manifest_trust(o), made_at(a),
			    manifest_org(o), who, sizeof(who), why, sizeof(why))) {
		print_line(stderr, "manifest signature: INVALID: %s", why);
		bad = 1;
	} else {
		print_line(stderr, "manifest signature: valid (%s)", who);
	}
	if (packet_policy(o, member, &trust, org, sizeof(org))) {
		if (packet_sig(buf, len, member, trust, org, made_at(a), why, sizeof(why))) {
			print_line(stderr, "packet signature: INVALID: %s", why);
			bad = 1;
		} else {
			fprintf(stderr, "packet signature: valid (signer O=%s)\n", org);
		}
	} else if (has_suffix(member, ".xml")) {
		fprintf(stderr, "packet signature: not held to one (%s)\n",
			strncmp(member, "rejected/", 9) ? "not a packet" : "rejected on import");
	}
	if (!strcmp(o->format, "xml")) {
		if (len && fwrite(buf, 1, len, stdout) != len) {
			error("cannot write the packet to stdout: %s", strerror(errno));
			goto out;
		}
	} else {
		xmlDocPtr doc = safexml_read_mem(buf, len, MANIFEST_MAX_BYTES, member, why, sizeof(why));
		char *text = NULL;
		int tl = 0;

		if (!doc) {
			error("\"%s\" is not readable XML: %s", member, why);
			goto out;
		}
		if (xslt_apply(cfg_formats_dir(o->cfg), "audit-packet.xsl", doc, NULL, &text, &tl)) {
			xmlFreeDoc(doc);
			goto out;
		}
		fwrite(text, 1, tl, stdout);
		free(text);
		xmlFreeDoc(doc);
	}
	if (fflush(stdout)) {
		error("cannot write to stdout: %s", strerror(errno));
		goto out;
	}
	ret = bad ? EXIT_DATAERR : 0;
out:
	arc_close(r);
	free(mt);
	free(sg);
	free(buf);
	index_release(&ix);
	return ret;
}

CMD(cmd_audit)
{
	struct opts o = { 0 };
	char **pos = NULL, *dir = NULL;
	int npos = 0, ret;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	if (argc < 2)
		return usage_error(usage, "audit needs a verb: list, show or verify");
	if (strcmp(argv[1], "list") && strcmp(argv[1], "show") && strcmp(argv[1], "verify"))
		return usage_error(usage, "unknown audit verb \"%s\"", argv[1]);
	ret = parse_opts(argc, argv, &o, &pos, &npos);
	if (ret)
		goto out;
	o.json |= ctx->json;
	o.cfg = ctx_config(ctx);
	if (!o.cfg) {
		ret = EXIT_FAILED;
		goto out;
	}
	if (!o.dir)
		o.dir = dir = cfg_spool(o.cfg, "archive");
	if (!o.format)
		o.format = "xml";
	if (o.head && (strcmp(argv[1], "verify") || strlen(o.head) != 64 ||
		       strspn(o.head, "0123456789abcdef") != 64)) {
		ret = usage_error(usage, "--head takes the 64 lowercase hex digits of an archive's SHA-256"
					 " (audit verify only)");
	} else if (!strcmp(argv[1], "list")) {
		ret = npos ? usage_error(usage, "audit list takes no arguments") : cmd_list(&o);
	} else if (!strcmp(argv[1], "show") && npos != 1) {
		ret = usage_error(usage, "audit show takes one PACKET_ID");
	} else if (xmlsig_init()) {
		ret = EXIT_FAILED;
	} else {
		ret = !strcmp(argv[1], "show") ? cmd_show(&o, pos[0]) : cmd_verify(&o, pos, npos);
		xmlsig_shutdown();
	}
out:
	free(pos);
	free(dir);
	return ret;
}
