/* redeem ACCOUNT CODE: the citizen typed the code from the letter.
 *
 *   normalise  spaces and hyphens dropped; not 16 digits or a wrong Damm
 *              check digit -> "mistyped", nothing touched, no attempt counted
 *   lock       the account's live code (FOR UPDATE), or why there is none
 *   verified   the account's current data must be verified: a citizen who
 *              edited it since the letter waits for the new checks (the
 *              code stays live, no attempt counted)
 *   compare    HMAC-SHA256 under the key file, constant-time
 *   record     one transaction: wrong -> attempts+1 (blocked at the limit);
 *              right -> code used, account confirmed, audit, notice
 * The code itself is never logged or stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "code.h"
#include "db.h"
#include "esia-batch.h"
#include "json.h"
#include "log.h"

static const char usage[] = "esia-batch redeem ACCOUNT CODE|-";

static const char help[] =
	"usage: esia-batch redeem ACCOUNT CODE|-\n"
	"\n"
	"Check the activation code a citizen typed for ACCOUNT (a number). CODE is\n"
	"the 16 digits from the letter, with or without spaces or hyphens (quote it,\n"
	"or pass the groups as separate arguments; \"-\" reads it from standard input,\n"
	"which keeps it out of the process list). On success the code is used up\n"
	"and the account becomes confirmed; an \"account confirmed\" notice is queued.\n"
	"\n"
	"Outcomes (printed on stdout; with --json as {\"account\":..,\"outcome\":..}):\n"
	"  confirmed  the code is right                                   exit 0\n"
	"  mistyped   not 16 digits or the check digit is wrong;\n"
	"             no attempt is counted                               exit 65\n"
	"  wrong      the code does not match; attempts left are shown    exit 65\n"
	"  blocked    too many wrong attempts ([letters] max_attempts);\n"
	"             the citizen must request a new letter               exit 65\n"
	"  expired    the code's validity ([letters] code_ttl) is over    exit 65\n"
	"  used       the code was already used                           exit 65\n"
	"  no-code    no activation code was issued for the account       exit 65\n"
	"  not-verified  the account's current personal data is not verified\n"
	"             (edited since the letter and being checked, or rejected);\n"
	"             the code stays valid, no attempt is counted         exit 65\n"
	"Exit 1: no such account, or a failure; 2 usage; 75 database down.\n";

static int report(struct ctx *ctx, long long account, const char *outcome, int left,
		  const char *msg)
{
	int ok = !strcmp(outcome, "confirmed");

	if (ctx->json) {
		printf("{\"account\":%lld,\"outcome\":\"%s\"", account, outcome);
		if (left >= 0)
			printf(",\"attempts_left\":%d", left);
		fputs(",\"message\":", stdout);
		json_print_str(stdout, msg);
		puts("}");
	} else {
		printf("%s\n", outcome);
		if (ok)
			fprintf(stderr, "%s\n", msg);
		else
			error("account %lld: %s", account, msg);
	}
	log_event(ok ? LOG_LVL_INFO : LOG_LVL_WARN, "redeem.outcome", "account=%lld outcome=%s",
		  account, outcome);
	return ok ? EXIT_DONE : EXIT_DATAERR;
}

/* Why there is no live code: the newest code's state, or none at all. */
static int no_live_code(struct ctx *ctx, PGconn *c, long long account, const char *id)
{
	const char *p[1] = { id };
	char *st = db_scalar(c,
		"SELECT coalesce((SELECT status FROM activation_codes WHERE account_id = $1::bigint"
		" ORDER BY id DESC LIMIT 1), 'none')", 1, p);
	int ret;

	if (!st)
		return EXIT_FAILED;
	if (!strcmp(st, "used"))
		ret = report(ctx, account, "used", -1, "the activation code was already used");
	else if (!strcmp(st, "blocked"))
		ret = report(ctx, account, "blocked", 0,
			     "the activation code is blocked after too many wrong attempts;"
			     " request a new letter");
	else if (!strcmp(st, "expired"))
		ret = report(ctx, account, "expired", -1,
			     "the activation code has expired; request a new letter");
	else
		ret = report(ctx, account, "no-code", -1, "no activation code was issued");
	free(st);
	return ret;
}

static int hex_to_mac(const char *hex, unsigned char mac[CODE_HMAC_LEN])
{
	/* bytea output "\x" + 64 hex digits */
	if (strncmp(hex, "\\x", 2) || strlen(hex) != 2 + 2 * CODE_HMAC_LEN)
		return -1;
	for (int i = 0; i < CODE_HMAC_LEN; i++) {
		unsigned v;

		if (sscanf(hex + 2 + 2 * i, "%2x", &v) != 1)
			return -1;
		mac[i] = (unsigned char)v;
	}
	return 0;
}

CMD(cmd_redeem)
{
	const struct config *cfg;
	char typed[256] = "", code[CODE_DIGITS + 1], id[24], maxs[24];
	unsigned char mac[CODE_HMAC_LEN], want[CODE_HMAC_LEN], *key = NULL;
	size_t keylen = 0, tl = 0;
	long long account, max;
	const char *p[2] = { id, maxs };
	PGconn *c = NULL;
	PGresult *r = NULL;
	int ret = EXIT_FAILED, norm, verified;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	if (argc < 3 || parse_int(argv[1], &account) || account <= 0)
		return usage_error(usage, "expected an account number and a code");
	if (argc == 3 && !strcmp(argv[2], "-")) {
		/* from stdin: keeps the code out of the process list */
		if (!fgets(typed, sizeof(typed), stdin))
			return usage_error(usage, "no code on standard input");
		typed[strcspn(typed, "\r\n")] = '\0';
		argc = 2; /* nothing more to join */
	}
	for (int i = 2; i < argc; i++) {
		size_t n = strlen(argv[i]);

		if (tl + n + 1 >= sizeof(typed))
			return usage_error(usage, "the code is too long");
		memcpy(typed + tl, argv[i], n);
		tl += n;
		typed[tl] = '\0';
	}
	snprintf(id, sizeof(id), "%lld", account);

	/* normalise: a typo costs no attempt */
	norm = code_normalise(typed, code);
	OPENSSL_cleanse(typed, sizeof(typed));
	if (norm) {
		ret = report(ctx, account, "mistyped", -1,
			     norm < 0 ? "the code must be 16 digits; please check it"
				      : "the code was mistyped (check digit does not match); please check it");
		goto out;
	}

	cfg = ctx_config(ctx);
	if (!cfg)
		goto out;
	max = cfg_int(cfg, "letters", "max_attempts");
	if (max <= 0) {
		error("[letters] max_attempts must be positive");
		goto out;
	}
	snprintf(maxs, sizeof(maxs), "%lld", max);
	if (!*cfg_str(cfg, "letters", "hmac_key")) {
		error("[letters] hmac_key is not set");
		goto out;
	}
	key = (unsigned char *)cfg_secret(cfg, "letters", "hmac_key", &keylen);
	if (!key || code_hmac(key, keylen, code, mac))
		goto out;
	c = db_connect(cfg);
	if (!c) {
		ret = EXIT_TEMPFAIL;
		goto out;
	}

	/* lock */
	if (db_begin(c))
		goto fail;
	/* 'none': standard without a check of ours (verified before this system) */
	r = db_query(c, "SELECT level IN ('standard', 'confirmed') AND data_status IN ('verified', 'none')"
			" FROM accounts WHERE id = $1::bigint FOR UPDATE", 1, p);
	if (!r)
		goto fail;
	if (!PQntuples(r)) {
		error("no account %lld", account);
		goto fail;
	}
	verified = !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	r = db_query(c, "SELECT id, code_hmac, attempts, expires_at <= now() FROM activation_codes"
			" WHERE account_id = $1::bigint AND status = 'live' FOR UPDATE", 1, p);
	if (!r)
		goto fail;
	if (!PQntuples(r)) {
		db_rollback(c);
		ret = no_live_code(ctx, c, account, id);
		goto out;
	}
	if (!strcmp(PQgetvalue(r, 0, 3), "t")) {
		const char *q[1] = { PQgetvalue(r, 0, 0) };

		if (db_exec(c, "UPDATE activation_codes SET status = 'expired' WHERE id = $1::bigint", 1, q) ||
		    db_exec(c, "INSERT INTO audit_events (event, account_id, details)"
			       " SELECT 'code_expired', account_id, jsonb_build_object('code', id)"
			       " FROM activation_codes WHERE id = $1::bigint", 1, q) ||
		    db_commit(c))
			goto fail;
		ret = report(ctx, account, "expired", -1,
			     "the activation code has expired; request a new letter");
		goto out;
	}
	if (!verified) {
		/* the letter proves the address, not data nobody has checked yet */
		db_rollback(c);
		ret = report(ctx, account, "not-verified", -1,
			     "the personal data in the account is not verified (changed since the"
			     " letter and being checked, or rejected); the code can be used once it is");
		goto out;
	}
	if (hex_to_mac(PQgetvalue(r, 0, 1), want)) {
		error("account %lld: stored code hash is malformed", account);
		goto fail;
	}

	/* compare and record */
	if (code_hmac_equal(mac, want)) {
		const char *q[2] = { PQgetvalue(r, 0, 0), id };

		if (db_exec(c, "UPDATE activation_codes SET status = 'used', used_at = now()"
			       " WHERE id = $1::bigint", 1, q) ||
		    db_exec(c, "UPDATE accounts SET level = 'confirmed', updated_at = now()"
			       " WHERE id = $1::bigint", 1, q + 1) ||
		    db_exec(c, "INSERT INTO audit_events (event, account_id, details)"
			       " VALUES ('account_confirmed', $2::bigint,"
			       " jsonb_build_object('method', 'mail', 'code', $1::bigint))", 2, q) ||
		    db_exec(c, "SELECT enqueue_notice($1::bigint, 'account_confirmed',"
			       " 'account_confirmed:' || $1, '{}'::jsonb, NULL)", 1, q + 1) ||
		    db_commit(c))
			goto fail;
		ret = report(ctx, account, "confirmed", -1, "the account is confirmed");
	} else {
		const char *q[2] = { PQgetvalue(r, 0, 0), maxs };
		PGresult *u = db_query(c,
			"WITH k AS (UPDATE activation_codes SET attempts = attempts + 1,"
			"  status = CASE WHEN attempts + 1 >= $2::int THEN 'blocked' ELSE status END"
			"  WHERE id = $1::bigint RETURNING account_id, attempts, status),"
			" e AS (INSERT INTO audit_events (event, account_id, details)"
			"  SELECT CASE WHEN status = 'blocked' THEN 'code_blocked' ELSE 'code_wrong' END,"
			"   account_id, jsonb_build_object('code', $1::bigint, 'attempts', attempts) FROM k)"
			" SELECT $2::int - attempts, status FROM k", 2, q);
		int left;

		if (!u)
			goto fail;
		left = atoi(PQgetvalue(u, 0, 0));
		if (!strcmp(PQgetvalue(u, 0, 1), "blocked")) {
			PQclear(u);
			if (db_commit(c))
				goto fail;
			ret = report(ctx, account, "blocked", 0,
				     "wrong code; too many wrong attempts, the code is now blocked:"
				     " request a new letter");
		} else {
			char msg[96];

			PQclear(u);
			if (db_commit(c))
				goto fail;
			snprintf(msg, sizeof(msg), "wrong code; %d attempt%s left", left,
				 left == 1 ? "" : "s");
			ret = report(ctx, account, "wrong", left, msg);
		}
	}
	goto out;
fail:
	if (db_is_down(c))
		ret = EXIT_TEMPFAIL;
	db_rollback(c);
out:
	OPENSSL_cleanse(code, sizeof(code));
	OPENSSL_cleanse(mac, sizeof(mac));
	if (key)
		OPENSSL_cleanse(key, keylen);
	free(key);
	PQclear(r);
	if (c)
		PQfinish(c);
	return ret;
}
