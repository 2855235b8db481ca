/* Detached CMS (PKCS#7) signatures over archive manifests, with OpenSSL.
 * XML packets keep their own XML-DSig (xmlsig.h); this is only for MANIFEST. */
#ifndef ESIA_CMS_H
#define ESIA_CMS_H

#include <stddef.h>

/* Sign data with the PEM key (in memory) and the certificate file (plus an
 * optional chain file, may be NULL or ""). The signer's certificate is
 * embedded. *sig is DER, caller frees. 0 or -1 with a message printed. */
int cms_sign(const char *key_pem, size_t key_len, const char *cert_path, const char *chain_path,
	     const void *data, size_t len, unsigned char **sig, size_t *siglen);

/* Verify a detached DER signature over data: the signature is intact, the
 * signer's certificate chains to a certificate in trust_path (PEM, one or
 * more) and was valid at time at (0 = now; archives are checked as of the
 * time they were made, so they still verify after the signer's certificate
 * expires), and, if expected_org is not NULL or "", its subject O= is
 * expected_org. The signer's subject goes to who (may be NULL).
 * 0 valid, -1 invalid with the reason in why (nothing printed). */
int cms_verify(const unsigned char *sig, size_t siglen, const void *data, size_t len,
	       const char *trust_path, long long at, const char *expected_org, char *who,
	       size_t whon, char *why, size_t n);

/* 1 if a certificate in PEM file a is also in PEM file b (its subject in
 * subj): the manifest's anchor must not be one that vouches for another
 * organisation's signers. 0 otherwise, or if either is unreadable. */
int cms_anchor_shared(const char *a, const char *b, char *subj, size_t n);

#endif
