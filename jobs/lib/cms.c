#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cms.h"
#include "err.h"

/* The newest OpenSSL error as one line (empties the queue). */
static void ossl_why(char *why, size_t n, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char buf[256] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	snprintf(why, n, "%s%s%s", what, *buf ? ": " : "", buf);
}

static STACK_OF(X509) *read_certs(const char *path)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b = BIO_new_file(path, "r");
	X509 *x;

	if (!b || !sk) {
		BIO_free(b);
		sk_X509_free(sk);
		return NULL;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		sk_X509_push(sk, x);
	ERR_clear_error(); /* the end of the file reads as an error */
	BIO_free(b);
	if (!sk_X509_num(sk)) {
		sk_X509_free(sk);
		return NULL;
	}
	return sk;
}

int cms_sign(const char *key_pem, size_t key_len, const char *cert_path, const char *chain_path,
	     const void *data, size_t len, unsigned char **sig, size_t *siglen)
{
	BIO *kb = NULL, *db = NULL, *out = NULL;
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *certs = NULL, *chain = NULL;
	CMS_ContentInfo *cms = NULL;
	char why[300];
	BUF_MEM *mem;
	int ret = -1;

	kb = BIO_new_mem_buf(key_pem, (int)key_len);
	key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	if (!key) {
		ossl_why(why, sizeof(why), "cannot read the signing key");
		error("%s", why);
		goto out;
	}
	certs = read_certs(cert_path);
	if (!certs) {
		error("cannot read the signing certificate \"%s\"", cert_path);
		goto out;
	}
	if (chain_path && *chain_path && !(chain = read_certs(chain_path))) {
		error("cannot read the certificate chain \"%s\"", chain_path);
		goto out;
	}
	db = BIO_new_mem_buf(data, (int)len);
	cms = CMS_sign(sk_X509_value(certs, 0), key, chain, db, CMS_DETACHED | CMS_BINARY);
	if (!cms) {
		ossl_why(why, sizeof(why), "cannot sign the manifest");
		error("%s", why);
		goto out;
	}
	out = BIO_new(BIO_s_mem());
	if (!out || i2d_CMS_bio(out, cms) != 1) {
		ossl_why(why, sizeof(why), "cannot encode the manifest signature");
		error("%s", why);
		goto out;
	}
	BIO_get_mem_ptr(out, &mem);
	*sig = xmalloc(mem->length);
	memcpy(*sig, mem->data, mem->length);
	*siglen = mem->length;
	ret = 0;
out:
	CMS_ContentInfo_free(cms);
	BIO_free(out);
	BIO_free(db);
	BIO_free(kb);
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(chain, X509_free);
	return ret;
}

int cms_verify(const unsigned char *sig, size_t siglen, const void *data, size_t len,
	       const char *trust_path, long long at, const char *expected_org, char *who,
	       size_t whon, char *why, size_t n)
{
	BIO *sb = NULL, *db = NULL;
	CMS_ContentInfo *cms = NULL;
	X509_STORE *store = NULL;
	STACK_OF(X509) *signers = NULL;
	int ret = -1;

	if (who && whon)
		who[0] = '\0';
	ERR_clear_error();
	store = X509_STORE_new();
	if (!store || X509_STORE_load_file(store, trust_path) != 1) {
		ossl_why(why, n, "cannot load trust anchor");
		goto out;
	}
	if (at > 0)
		X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), (time_t)at);
	sb = BIO_new_mem_buf(sig, (int)siglen);
	cms = sb ? d2i_CMS_bio(sb, NULL) : NULL;
	if (!cms) {
		ossl_why(why, n, "signature is not a CMS structure");
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed || !CMS_is_detached(cms)) {
		snprintf(why, n, "signature is not detached CMS signed-data");
		goto out;
	}
	db = BIO_new_mem_buf(data, (int)len);
	if (CMS_verify(cms, NULL, store, db, NULL, CMS_BINARY) != 1) {
		ossl_why(why, n, "signature does not verify");
		goto out;
	}
	signers = CMS_get0_signers(cms);
	if (!signers || sk_X509_num(signers) != 1) {
		snprintf(why, n, "signature has %d signers, expected one",
			 signers ? sk_X509_num(signers) : 0);
		goto out;
	}
	if (who && whon)
		X509_NAME_oneline(X509_get_subject_name(sk_X509_value(signers, 0)), who, (int)whon);
	if (expected_org && *expected_org) {
		char org[256] = "";

		X509_NAME_get_text_by_NID(X509_get_subject_name(sk_X509_value(signers, 0)),
					  NID_organizationName, org, sizeof(org));
		if (strcmp(org, expected_org)) {
			snprintf(why, n, "signer organisation is %s, expected %s", *org ? org : "(none)",
				 expected_org);
			goto out;
		}
	}
	ret = 0;
out:
	sk_X509_free(signers);
	CMS_ContentInfo_free(cms);
	BIO_free(db);
	BIO_free(sb);
	X509_STORE_free(store);
	ERR_clear_error();
	return ret;
}

int cms_anchor_shared(const char *a, const char *b, char *subj, size_t n)
{
	STACK_OF(X509) *x = a && *a ? read_certs(a) : NULL;
	STACK_OF(X509) *y = b && *b ? read_certs(b) : NULL;
	int found = 0;

	for (int i = 0; x && y && !found && i < sk_X509_num(x); i++)
		for (int k = 0; !found && k < sk_X509_num(y); k++)
			if (!X509_cmp(sk_X509_value(x, i), sk_X509_value(y, k))) {
				X509_NAME_oneline(X509_get_subject_name(sk_X509_value(x, i)), subj, (int)n);
				found = 1;
			}
	sk_X509_pop_free(x, X509_free);
	sk_X509_pop_free(y, X509_free);
	return found;
}
