/* The one XML-DSig signer and verifier (libxmlsec1 with OpenSSL).
 *
 * Profile (formats/PACKETS.md): one enveloped ds:Signature, the LAST child of
 * the root element; one Reference with URI="" (the whole document); transforms
 * enveloped + exclusive C14N; SHA-256 digest; RSA-SHA256, or ECDSA-SHA256 when
 * the key is EC; the signer's certificate in KeyInfo/X509Data.
 *
 * Verification is strict and trusts nothing but the anchor it is given: the
 * certificate in KeyInfo must chain to trust_anchor_pem (no system store), be
 * valid now, and (when asked) carry subject O= expected_org and have exactly
 * the subject expected_subject (RFC 2253, UTF-8 unescaped); the signature
 * must be the only one, a child of the root, cover the root (URI=""), use only
 * the transforms above, and its value must verify with that certificate's key.
 *
 *   xmlsig_init();
 *   struct signer *s = signer_load_config(cfg);    // [signer] key, cert
 *   xmlsig_sign(doc, s);                           // append ds:Signature
 *   xmlsig_sign_c14n(s, parts, n, &sig, &len);     // or stream: see below
 *   ...
 *   if (xmlsig_verify(doc, "pfr-ca.pem", "PFR", NULL, why, sizeof why) < 0)
 *           reject(why);                           // e.g. "certificate expired"
 *   signer_free(s);
 *   xmlsig_shutdown();
 */
#ifndef ESIA_XMLSIG_H
#define ESIA_XMLSIG_H

#include <stddef.h>
#include <libxml/tree.h>

struct config;
struct signer;

/* Initialise libxmlsec1 and its OpenSSL back end; idempotent, counted:
 * every successful xmlsig_init() is matched by one xmlsig_shutdown(). */
int xmlsig_init(void);
void xmlsig_shutdown(void);

/* A signing key with its certificate. key_pem and cert_pem are PEM TEXT
 * (NUL-terminated), not file names: the key usually comes from cfg_secret().
 * Call xmlsig_init() first.
 * cert_pem may hold further (intermediate) certificates after the signer's
 * own; they are included in KeyInfo. The key must match the first
 * certificate. NULL after printing an error. */
struct signer *signer_load(const char *key_pem, const char *cert_pem);
/* The same from the configuration: [signer] key (secret file) and cert, plus
 * [signer] chain if set. NULL after printing an error naming the key. */
struct signer *signer_load_config(const struct config *cfg);
void signer_free(struct signer *s);
/* "rsa-sha256" or "ecdsa-sha256". */
const char *signer_algorithm(const struct signer *s);

/* Append an enveloped signature as the last child of the root and compute it.
 * The document must not already carry a ds:Signature. 0, or -1 after printing
 * an error. Thread-compatible (one doc per call), not thread-safe. */
int xmlsig_sign(xmlDocPtr doc, const struct signer *s);

/* Streamed signing, for packets too big to re-read as a tree: the caller
 * hands over the document's exclusive canonical form, without the signature
 * (the bytes exclusive C14N would give for it: the root element only,
 * attributes in canonical order and escaping, no empty-element tags), as
 * parts in order, and gets the serialised ds:Signature element to put as the
 * root's last child, right before its end tag (*out, free() it; *outlen =
 * xmlsig_signature_bytes()). The result is what xmlsig_sign() would add to
 * the parsed document: the same SignedInfo and KeyInfo, which libxmlsec1
 * made for a probe document when the signer was loaded (and verified, signed
 * this way); libxmlsec1's SHA-256 transform digests the canonical form and
 * its signature transform signs. 0, or -1 after printing an error. */
struct xmlsig_part {
	const void *p;
	size_t n;
};
int xmlsig_sign_c14n(const struct signer *s, const struct xmlsig_part *parts, int nparts,
		     char **out, size_t *outlen);
/* The length of that ds:Signature element: the same for every document. */
size_t xmlsig_signature_bytes(const struct signer *s);

/* Verify doc as described above. trust_anchor_pem is a FILE holding one or
 * more CA certificates in PEM. expected_org may be NULL or "" to skip the O=
 * check. expected_subject, NULL or "" to skip, is compared whole with the
 * signer's subject as `openssl x509 -noout -subject -nameopt RFC2253,-esc_msb`
 * prints it (e.g. "O=PFR,CN=pfr-signer": RFC 2253 lists the last RDN first).
 * Returns 0 when valid; -1 with a one-line reason in why (nothing is
 * printed): "no signature", "more than one signature", "signature is not the
 * last child of the document root", "signature does not cover the document
 * root", "transform not allowed: URI", "no signer certificate in KeyInfo",
 * "certificate expired", "certificate not yet valid", "untrusted signer: ...",
 * "signer organisation is X, expected Y", "signer subject is \"X\", expected
 * \"Y\"", "document changed after signing (digest mismatch)", "signature
 * value invalid", ... */
int xmlsig_verify(xmlDocPtr doc, const char *trust_anchor_pem, const char *expected_org,
		  const char *expected_subject, char *why, size_t n);
/* The same, with the certificate's validity judged as of `at` (seconds since
 * the epoch; 0 = now): auditors check an archived packet as of when it was
 * archived, so archives outlive the agencies' certificates. */
int xmlsig_verify_at(xmlDocPtr doc, const char *trust_anchor_pem, const char *expected_org,
		     const char *expected_subject, long long at, char *why, size_t n);

#endif
