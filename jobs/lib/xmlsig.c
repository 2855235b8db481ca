/* XML-DSig: sign and verify packets (see xmlsig.h for the profile). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/base64.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/keys.h>
#include <xmlsec/templates.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmltree.h>
#include <xmlsec/openssl/evp.h>
#include <xmlsec/openssl/x509.h>

#include "config.h"
#include "err.h"
#include "xmlsig.h"

#define DSIG_NS "http://www.w3.org/2000/09/xmldsig#"
#define URI_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define URI_ENVELOPED "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define URI_SHA256 "http://www.w3.org/2001/04/xmlenc#sha256"
#define URI_RSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define URI_ECDSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
#define MAX_CHAIN 8

struct signer {
	xmlSecKeyPtr key;
	int ec; /* ECDSA-SHA256 rather than RSA-SHA256 */
	/* For xmlsig_sign_c14n: the ds:Signature libxmlsec1 made for a probe
	 * document, serialised, = sig[0] DigestValue sig[1] SignatureValue
	 * sig[2]; its canonical SignedInfo = si[0] DigestValue si[1]. Nothing
	 * else in them depends on the document signed. */
	char *sig[3], *si[2];
	size_t siglen; /* the whole serialised ds:Signature */
};

static int init_count;

/* Trust anchors, read once per process and path: a run verifies hundreds of
 * packets against the same one or two files. */
#define ANCHORS_MAX 4
static struct {
	char *path;
	X509_STORE *store;
} anchors[ANCHORS_MAX];
static char last_xmlsec_error[256]; /* from the xmlsec callback, for messages */

static void quiet_errors(const char *file, int line, const char *func, const char *obj,
			 const char *subj, int reason, const char *msg)
{
	(void)file;
	(void)line;
	(void)func;
	(void)reason;
	snprintf(last_xmlsec_error, sizeof last_xmlsec_error, "%s%s%s%s%s", obj ? obj : "",
		 obj && subj ? "/" : "", subj ? subj : "", msg && *msg ? ": " : "", msg ? msg : "");
}

int xmlsig_init(void)
{
	if (init_count > 0) {
		init_count++;
		return 0;
	}
	xmlInitParser();
	if (xmlSecInit() < 0)
		return error("cannot initialise xmlsec");
	if (xmlSecCheckVersion() != 1) {
		xmlSecShutdown();
		return error("xmlsec library version mismatch");
	}
	if (xmlSecCryptoAppInit(NULL) < 0) {
		xmlSecShutdown();
		return error("cannot initialise xmlsec's crypto back end");
	}
	if (xmlSecCryptoInit() < 0) {
		xmlSecCryptoAppShutdown();
		xmlSecShutdown();
		return error("cannot initialise xmlsec-openssl");
	}
	xmlSecErrorsSetCallback(quiet_errors);
	init_count = 1;
	return 0;
}

void xmlsig_shutdown(void)
{
	if (init_count <= 0 || --init_count > 0)
		return;
	for (int i = 0; i < ANCHORS_MAX; i++) {
		X509_STORE_free(anchors[i].store);
		free(anchors[i].path);
		anchors[i].store = NULL;
		anchors[i].path = NULL;
	}
	xmlSecCryptoShutdown();
	xmlSecCryptoAppShutdown();
	xmlSecShutdown();
}

static const char *ssl_error(void)
{
	static char buf[160];
	unsigned long e = ERR_peek_last_error();

	if (!e)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return buf;
}

static int stream_prepare(struct signer *s);

struct signer *signer_load(const char *key_pem, const char *cert_pem)
{
	struct signer *s = NULL, *ret = NULL;
	BIO *kb = NULL, *cb = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *certs[MAX_CHAIN];
	int ncerts = 0, type;
	xmlSecKeyDataPtr value = NULL, x509;

	if (!init_count) {
		error("xmlsig_init() was not called before signer_load()");
		return NULL;
	}
	kb = BIO_new_mem_buf(key_pem, -1);
	cb = BIO_new_mem_buf(cert_pem, -1);
	if (!kb || !cb) {
		error("out of memory loading the signer");
		goto out;
	}
	pkey = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	if (!pkey) {
		error("cannot read the signing key: %s", ssl_error());
		goto out;
	}
	while (ncerts < MAX_CHAIN) {
		X509 *c = PEM_read_bio_X509(cb, NULL, NULL, NULL);
		if (!c)
			break;
		certs[ncerts++] = c;
	}
	ERR_clear_error();
	if (!ncerts) {
		error("cannot read the signing certificate: no PEM certificate found");
		goto out;
	}
	if (X509_check_private_key(certs[0], pkey) != 1) {
		ERR_clear_error();
		error("the signing key does not match the signing certificate");
		goto out;
	}
	type = EVP_PKEY_base_id(pkey);
	if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
		error("the signing key is neither RSA nor EC");
		goto out;
	}
	s = xcalloc(1, sizeof *s);
	s->ec = type == EVP_PKEY_EC;
	s->key = xmlSecKeyCreate();
	if (!s->key) {
		error("cannot create an xmlsec key");
		goto out;
	}
	value = xmlSecOpenSSLEvpKeyAdopt(pkey);
	if (!value) {
		error("cannot adopt the signing key into xmlsec");
		goto out;
	}
	pkey = NULL; /* owned by value */
	if (xmlSecKeySetValue(s->key, value) < 0) {
		xmlSecKeyDataDestroy(value);
		error("cannot set the xmlsec key value");
		goto out;
	}
	x509 = xmlSecKeyEnsureData(s->key, xmlSecOpenSSLKeyDataX509Id);
	if (!x509) {
		error("cannot attach the certificate to the key");
		goto out;
	}
	{
		X509 *dup = X509_dup(certs[0]);
		if (!dup || xmlSecOpenSSLKeyDataX509AdoptKeyCert(x509, dup) < 0) {
			X509_free(dup);
			error("cannot attach the signing certificate");
			goto out;
		}
	}
	for (int i = 0; i < ncerts; i++) {
		if (xmlSecOpenSSLKeyDataX509AdoptCert(x509, certs[i]) < 0) {
			error("cannot attach certificate %d of the chain", i + 1);
			goto out;
		}
		certs[i] = NULL; /* owned by the key data */
	}
	if (stream_prepare(s) < 0)
		goto out;
	ret = s;
	s = NULL;
out:
	for (int i = 0; i < ncerts; i++)
		X509_free(certs[i]);
	EVP_PKEY_free(pkey);
	BIO_free(kb);
	BIO_free(cb);
	signer_free(s);
	return ret;
}

static char *slurp(const char *path, const char *what)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, got;

	if (!f) {
		error("cannot open %s '%s': %m", what, path);
		return NULL;
	}
	do {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 8192;
			if (cap > (1u << 20)) {
				error("%s '%s' is too big", what, path);
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = xrealloc(buf, cap);
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
	} while (got > 0);
	if (ferror(f)) {
		error("cannot read %s '%s': %m", what, path);
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

struct signer *signer_load_config(const struct config *cfg)
{
	const char *cert = cfg_str(cfg, "signer", "cert");
	const char *chain = cfg_str(cfg, "signer", "chain");
	char *key = NULL, *pem = NULL, *more = NULL, *all = NULL;
	struct signer *s = NULL;

	if (!*cfg_str(cfg, "signer", "key") || !*cert) {
		error("no signing key: set [signer] key and cert");
		return NULL;
	}
	key = cfg_secret(cfg, "signer", "key", NULL);
	if (!key)
		goto out;
	pem = slurp(cert, "signing certificate");
	if (!pem)
		goto out;
	if (*chain) {
		more = slurp(chain, "certificate chain");
		if (!more)
			goto out;
	}
	all = xasprintf("%s\n%s", pem, more ? more : "");
	s = signer_load(key, all);
	if (!s)
		error("cannot load the signer from [signer] key and cert '%s'", cert);
out:
	if (key) {
		OPENSSL_cleanse(key, strlen(key));
		free(key);
	}
	free(pem);
	free(more);
	free(all);
	return s;
}

void signer_free(struct signer *s)
{
	if (!s)
		return;
	if (s->key)
		xmlSecKeyDestroy(s->key);
	for (int i = 0; i < 3; i++)
		free(s->sig[i]);
	for (int i = 0; i < 2; i++)
		free(s->si[i]);
	free(s);
}

const char *signer_algorithm(const struct signer *s)
{
	return s->ec ? "ecdsa-sha256" : "rsa-sha256";
}

/* First ds:Signature below node (depth-first), counting all of them. */
static void find_signatures(xmlNodePtr node, xmlNodePtr *first, int *count)
{
	for (xmlNodePtr c = node; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (xmlSecCheckNodeName(c, xmlSecNodeSignature, xmlSecDSigNs)) {
			if (!*first)
				*first = c;
			(*count)++;
		}
		find_signatures(c->children, first, count);
	}
}

/* xmlsig_sign(); with presign, also a copy of the canonical SignedInfo
 * that was signed (xmlSecBufferDestroy() it). */
static int sign_doc(xmlDocPtr doc, const struct signer *s, xmlSecBufferPtr *presign)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), sig = NULL, ref, ki, x509;
	xmlSecDSigCtxPtr ctx = NULL;
	xmlNodePtr found = NULL;
	int count = 0, ret = -1;

	if (!root)
		return error("cannot sign an empty document");
	find_signatures(root, &found, &count);
	if (count)
		return error("the document is already signed");
	sig = xmlSecTmplSignatureCreate(doc, xmlSecTransformExclC14NId,
					s->ec ? xmlSecTransformEcdsaSha256Id
					      : xmlSecTransformRsaSha256Id,
					NULL);
	if (!sig)
		return error("cannot create the signature template");
	if (!xmlAddChild(root, sig)) {
		xmlFreeNode(sig);
		return error("cannot add the signature to the document");
	}
	ref = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, NULL, BAD_CAST "",
					      NULL);
	if (!ref || !xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId) ||
	    !xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId)) {
		error("cannot build the signature reference");
		goto out;
	}
	ki = xmlSecTmplSignatureEnsureKeyInfo(sig, NULL);
	x509 = ki ? xmlSecTmplKeyInfoAddX509Data(ki) : NULL;
	if (!x509 || !xmlSecTmplX509DataAddCertificate(x509)) {
		error("cannot build the signature's KeyInfo");
		goto out;
	}
	ctx = xmlSecDSigCtxCreate(NULL);
	if (!ctx) {
		error("cannot create a signature context");
		goto out;
	}
	ctx->signKey = xmlSecKeyDuplicate(s->key);
	if (!ctx->signKey) {
		error("cannot copy the signing key");
		goto out;
	}
	if (presign)
		ctx->flags |= XMLSEC_DSIG_FLAGS_STORE_SIGNATURE;
	last_xmlsec_error[0] = '\0';
	if (xmlSecDSigCtxSign(ctx, sig) < 0) {
		error("signing failed: %s", last_xmlsec_error);
		goto out;
	}
	if (presign) {
		xmlSecBufferPtr b = xmlSecDSigCtxGetPreSignBuffer(ctx);
		*presign = b ? xmlSecBufferCreate(0) : NULL;
		if (*presign && xmlSecBufferSetData(*presign, xmlSecBufferGetData(b),
						    xmlSecBufferGetSize(b)) < 0) {
			xmlSecBufferDestroy(*presign);
			*presign = NULL;
		}
		if (!*presign) {
			error("libxmlsec1 kept no canonical SignedInfo");
			goto out;
		}
	}
	ret = 0;
out:
	if (ctx)
		xmlSecDSigCtxDestroy(ctx);
	if (ret < 0 && sig) {
		xmlUnlinkNode(sig);
		xmlFreeNode(sig);
	}
	return ret;
}

int xmlsig_sign(xmlDocPtr doc, const struct signer *s)
{
	return sign_doc(doc, s, NULL);
}

/* ---- streamed signing (xmlsig_sign_c14n) ---- */

/* sig's descendant ds:NAME's text, xmlFree()d by the caller. */
static xmlChar *value_of(xmlNodePtr sig, const char *name)
{
	xmlNodePtr n = xmlSecFindNode(sig, BAD_CAST name, xmlSecDSigNs);

	return n ? xmlNodeGetContent(n) : NULL;
}

/* Split all around the one occurrence of needle: the part before is
 * returned (malloc'd), *rest points after it. NULL when needle is not
 * there exactly once. */
static char *cut(const char *all, const char *needle, const char **rest)
{
	const char *at = strstr(all, needle);
	size_t k = strlen(needle);

	if (!at || !k || strstr(at + 1, needle))
		return NULL;
	*rest = at + k;
	return xstrndup(all, (size_t)(at - all));
}

/* libxmlsec1's transform `id` (a digest, or a signature with the signer's
 * key) applied to data, its result in base64 as libxmlsec1 writes it into
 * ds:DigestValue and ds:SignatureValue. xmlFree() it. */
static xmlChar *transform_b64(const struct signer *s, xmlSecTransformId id, const xmlSecByte *data,
			      size_t n)
{
	xmlSecTransformCtxPtr t = xmlSecTransformCtxCreate();
	xmlSecTransformPtr m = t ? xmlSecTransformCtxCreateAndAppend(t, id) : NULL;
	xmlChar *ret = NULL;

	if (!m) {
		error("cannot create an xmlsec transform");
		goto out;
	}
	m->operation = xmlSecTransformOperationSign;
	last_xmlsec_error[0] = '\0';
	if ((id != xmlSecTransformSha256Id && xmlSecTransformSetKey(m, s->key) < 0) ||
	    xmlSecTransformCtxBinaryExecute(t, data, (xmlSecSize)n) < 0 || !t->result) {
		error("signing failed: %s", last_xmlsec_error);
		goto out;
	}
	ret = xmlSecBase64Encode(xmlSecBufferGetData(t->result), xmlSecBufferGetSize(t->result),
				 xmlSecBase64GetDefaultLineSize());
	if (!ret)
		error("out of memory");
out:
	if (t)
		xmlSecTransformCtxDestroy(t);
	return ret;
}

int xmlsig_sign_c14n(const struct signer *s, const struct xmlsig_part *parts, int nparts,
		     char **out, size_t *outlen)
{
	xmlChar *d = NULL, *v = NULL;
	char *si = NULL, *all = NULL;
	size_t n = 0;
	int ret = -1;

	*out = NULL;
	if (!s->sig[0])
		return error("the signer was not prepared for streamed signing (bug)");
	/* libxmlsec1 digests one buffer; a copy costs little beside SHA-256 */
	for (int i = 0; i < nparts; i++)
		n += parts[i].n;
	all = xmalloc(n + 1);
	n = 0;
	for (int i = 0; i < nparts; i++) {
		memcpy(all + n, parts[i].p, parts[i].n);
		n += parts[i].n;
	}
	d = transform_b64(s, xmlSecTransformSha256Id, (const xmlSecByte *)all, n);
	if (!d)
		goto out;
	si = xasprintf("%s%s%s", s->si[0], (const char *)d, s->si[1]);
	v = transform_b64(s, s->ec ? xmlSecTransformEcdsaSha256Id : xmlSecTransformRsaSha256Id,
			  (const xmlSecByte *)si, strlen(si));
	if (!v)
		goto out;
	*out = xasprintf("%s%s%s%s%s", s->sig[0], (const char *)d, s->sig[1], (const char *)v,
			 s->sig[2]);
	*outlen = strlen(*out);
	/* packet_frame_bytes() relies on it */
	if (*outlen != s->siglen) {
		error("the signature came out %zu bytes long, not %zu (bug)", *outlen, s->siglen);
		free(*out);
		*out = NULL;
		goto out;
	}
	ret = 0;
out:
	free(all);
	xmlFree(d);
	xmlFree(v);
	free(si);
	return ret;
}

/* libxmlsec1 verifies the probe document signed the streamed way. */
static int probe_verifies(const struct signer *s, const char *sigxml)
{
	char *text = xasprintf("<x>%s</x>", sigxml);
	xmlDocPtr doc = xmlReadMemory(text, (int)strlen(text), NULL, "UTF-8", XML_PARSE_NONET);
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
	xmlSecDSigCtxPtr ctx = NULL;
	int ok = 0;

	if (root && root->children && (ctx = xmlSecDSigCtxCreate(NULL)) &&
	    (ctx->signKey = xmlSecKeyDuplicate(s->key)) &&
	    xmlSecDSigCtxVerify(ctx, root->children) == 0)
		ok = ctx->status == xmlSecDSigStatusSucceeded;
	if (ctx)
		xmlSecDSigCtxDestroy(ctx);
	xmlFreeDoc(doc);
	free(text);
	return ok;
}

/* The probe: libxmlsec1 signs <x/> the ordinary way, keeping the canonical
 * SignedInfo; its ds:Signature is cut around the two values. Then the cut is
 * proven: "<x></x>" (the probe's canonical form) signed the streamed way
 * must carry libxmlsec1's own digest, the very same signature when that is
 * deterministic (RSA), and verify through libxmlsec1. */
static int stream_prepare(struct signer *s)
{
	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr root = doc ? xmlNewDocNode(doc, NULL, BAD_CAST "x", NULL) : NULL, sig;
	xmlSecBufferPtr presign = NULL;
	xmlBufferPtr dump = NULL;
	xmlChar *d = NULL, *v = NULL;
	char *whole = NULL, *si = NULL, *mine = NULL;
	const char *rest, *rest2;
	size_t minelen;
	int ret = -1;

	if (!root) {
		error("out of memory");
		goto out;
	}
	xmlDocSetRootElement(doc, root);
	if (sign_doc(doc, s, &presign) < 0)
		goto out;
	sig = xmlGetLastChild(root);
	dump = xmlBufferCreate();
	if (!dump || xmlNodeDump(dump, doc, sig, 0, 0) < 0) {
		error("cannot serialise the probe signature");
		goto out;
	}
	whole = xstrdup((const char *)xmlBufferContent(dump));
	si = xstrndup((const char *)xmlSecBufferGetData(presign), xmlSecBufferGetSize(presign));
	d = value_of(sig, "DigestValue");
	v = value_of(sig, "SignatureValue");
	if (!d || !v || !(s->sig[0] = cut(whole, (const char *)d, &rest)) ||
	    !(s->sig[1] = cut(rest, (const char *)v, &rest2)) ||
	    !(s->si[0] = cut(si, (const char *)d, &rest))) {
		error("cannot find the values in the probe signature (bug)");
		goto out;
	}
	s->sig[2] = xstrdup(rest2);
	s->si[1] = xstrdup(rest);
	s->siglen = strlen(whole);
	{
		const struct xmlsig_part c14n = { "<x></x>", 7 };
		if (xmlsig_sign_c14n(s, &c14n, 1, &mine, &minelen) < 0)
			goto out;
	}
	if (strncmp(mine, whole, (size_t)(rest2 - whole) - xmlStrlen(v)) ||
	    (!s->ec && strcmp(mine, whole)) || !probe_verifies(s, mine)) {
		error("the streamed signature differs from libxmlsec1's (bug)");
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		for (int i = 0; i < 3; i++) {
			free(s->sig[i]);
			s->sig[i] = NULL;
		}
	if (presign)
		xmlSecBufferDestroy(presign);
	if (dump)
		xmlBufferFree(dump);
	xmlFree(d);
	xmlFree(v);
	free(whole);
	free(si);
	free(mine);
	xmlFreeDoc(doc);
	return ret;
}

size_t xmlsig_signature_bytes(const struct signer *s)
{
	return s->siglen;
}

static int fail(char *why, size_t n, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (why && n) {
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static xmlNodePtr next_el(xmlNodePtr n)
{
	while (n && n->type != XML_ELEMENT_NODE)
		n = n->next;
	return n;
}

static int is_ds(xmlNodePtr n, const char *name)
{
	return n && xmlSecCheckNodeName(n, BAD_CAST name, xmlSecDSigNs);
}

/* Algorithm attribute equals want. */
static int alg_is(xmlNodePtr n, const char *want)
{
	xmlChar *a = xmlGetProp(n, BAD_CAST "Algorithm");
	int ok = a && !strcmp((const char *)a, want);

	xmlFree(a);
	return ok;
}

/* Structure of the signature: SignedInfo with exc-c14n, an allowed method,
 * one Reference URI="" with only enveloped + exc-c14n and a SHA-256 digest. */
static int check_profile(xmlNodePtr sig, char *why, size_t n)
{
	xmlNodePtr si = next_el(sig->children), c, ref = NULL, t;
	int refs = 0, env = 0;
	xmlChar *uri;

	if (!is_ds(si, "SignedInfo"))
		return fail(why, n, "malformed signature: no SignedInfo");
	c = next_el(si->children);
	if (!is_ds(c, "CanonicalizationMethod") || !alg_is(c, URI_EXC_C14N))
		return fail(why, n, "canonicalization is not exclusive c14n");
	c = next_el(c->next);
	if (!is_ds(c, "SignatureMethod") ||
	    !(alg_is(c, URI_RSA_SHA256) || alg_is(c, URI_ECDSA_SHA256)))
		return fail(why, n, "signature method is not rsa-sha256 or ecdsa-sha256");
	for (c = next_el(c->next); c; c = next_el(c->next)) {
		if (!is_ds(c, "Reference"))
			return fail(why, n, "malformed signature: unexpected %s in SignedInfo",
				    (const char *)c->name);
		refs++;
		ref = c;
	}
	if (refs != 1)
		return fail(why, n, "signature has %d references, expected exactly 1", refs);
	uri = xmlGetProp(ref, BAD_CAST "URI");
	if (!uri || *uri) {
		xmlFree(uri);
		return fail(why, n, "signature does not cover the document root");
	}
	xmlFree(uri);
	c = next_el(ref->children);
	if (is_ds(c, "Transforms")) {
		for (t = next_el(c->children); t; t = next_el(t->next)) {
			xmlChar *a = xmlGetProp(t, BAD_CAST "Algorithm");
			int ok = is_ds(t, "Transform") && a &&
				 (!strcmp((char *)a, URI_ENVELOPED) ||
				  !strcmp((char *)a, URI_EXC_C14N));
			if (ok && !strcmp((char *)a, URI_ENVELOPED))
				env++;
			if (!ok) {
				fail(why, n, "transform not allowed: %.100s",
				     a ? (const char *)a : "(none)");
				xmlFree(a);
				return -1;
			}
			xmlFree(a);
		}
		c = next_el(c->next);
	}
	if (env != 1)
		return fail(why, n, "signature is not enveloped");
	if (!is_ds(c, "DigestMethod") || !alg_is(c, URI_SHA256))
		return fail(why, n, "digest method is not sha256");
	return 0;
}

static X509 *cert_from_node(xmlNodePtr node)
{
	xmlChar *text = xmlNodeGetContent(node);
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *x = NULL;
	EVP_ENCODE_CTX *ec = NULL;
	int len = 0, fin = 0;
	size_t tl;

	if (!text)
		return NULL;
	tl = strlen((char *)text);
	if (tl > 65536)
		goto out;
	der = xmalloc(tl + 4);
	ec = EVP_ENCODE_CTX_new();
	if (!ec)
		goto out;
	EVP_DecodeInit(ec);
	if (EVP_DecodeUpdate(ec, der, &len, text, (int)tl) < 0 ||
	    EVP_DecodeFinal(ec, der + len, &fin) < 0)
		goto out;
	len += fin;
	p = der;
	x = d2i_X509(NULL, &p, len);
out:
	ERR_clear_error();
	EVP_ENCODE_CTX_free(ec);
	free(der);
	xmlFree(text);
	return x;
}

static void subject_line(X509 *x, char *buf, size_t n)
{
	X509_NAME_oneline(X509_get_subject_name(x), buf, (int)n);
}

/* The subject in RFC 2253 form with UTF-8 left unescaped, exactly what
 * `openssl x509 -noout -subject -nameopt RFC2253,-esc_msb` prints after
 * "subject=" (so an operator can copy it; Russian names stay readable).
 * Control characters are escaped: the text fits a one-line reason. NULL on
 * failure; caller frees. */
static char *subject_rfc2253(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL, *s = NULL;
	long len;

	if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
				    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (len = BIO_get_mem_data(b, &p)) >= 0)
		s = xstrndup(p ? p : "", (size_t)len);
	BIO_free(b);
	return s;
}

/* The signer's subject must be want, compared whole and byte for byte: a
 * substring would let "CN=pfr-signer-test" pass for "CN=pfr-signer". */
static int check_subject(X509 *leaf, const char *want, char *why, size_t n)
{
	char *got = subject_rfc2253(leaf);
	int ret = 0;

	if (!got)
		return fail(why, n, "cannot read the signer certificate's subject");
	if (strcmp(got, want))
		ret = fail(why, n, "signer subject is \"%.200s\", expected \"%.200s\"", got, want);
	free(got);
	return ret;
}

/* The store holding the anchors in the PEM file at path (a reference of the
 * caller's own), or NULL. */
static X509_STORE *anchor_store(const char *path)
{
	X509_STORE *st;
	int i;

	for (i = 0; i < ANCHORS_MAX && anchors[i].path; i++)
		if (!strcmp(anchors[i].path, path))
			return X509_STORE_up_ref(anchors[i].store) ? anchors[i].store : NULL;
	st = X509_STORE_new();
	if (!st || !X509_STORE_load_file(st, path)) {
		X509_STORE_free(st);
		return NULL;
	}
	if (i < ANCHORS_MAX && X509_STORE_up_ref(st)) {
		anchors[i].path = xstrdup(path);
		anchors[i].store = st;
	}
	return st;
}

/* The certificate chain from KeyInfo, checked against the anchor only.
 * On success *leaf_out holds the signer's certificate (caller frees). */
static int check_certificate(xmlNodePtr sig, const char *anchor, const char *org, long long at,
			     X509 **leaf_out, char *why, size_t n)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509_STORE *store = NULL;
	X509_STORE_CTX *sc = NULL;
	X509 *leaf = NULL;
	xmlNodePtr ki = NULL, c, d;
	int ret = -1, err;
	char subj[256];

	*leaf_out = NULL;
	if (!chain)
		return fail(why, n, "out of memory");
	for (c = next_el(sig->children); c; c = next_el(c->next))
		if (is_ds(c, "KeyInfo"))
			ki = c;
	for (c = ki ? next_el(ki->children) : NULL; c; c = next_el(c->next)) {
		if (!is_ds(c, "X509Data"))
			continue;
		for (d = next_el(c->children); d; d = next_el(d->next)) {
			X509 *x;
			if (!is_ds(d, "X509Certificate"))
				continue;
			if (sk_X509_num(chain) >= MAX_CHAIN) {
				fail(why, n, "too many certificates in KeyInfo");
				goto out;
			}
			x = cert_from_node(d);
			if (!x) {
				fail(why, n, "unreadable certificate in KeyInfo");
				goto out;
			}
			sk_X509_push(chain, x);
		}
	}
	if (sk_X509_num(chain) == 0) {
		fail(why, n, "no signer certificate in KeyInfo");
		goto out;
	}
	/* the leaf is the certificate that issued none of the others */
	for (int i = 0; i < sk_X509_num(chain) && !leaf; i++) {
		X509 *cand = sk_X509_value(chain, i);
		int issuer = 0;
		for (int j = 0; j < sk_X509_num(chain); j++)
			if (j != i && X509_check_issued(cand, sk_X509_value(chain, j)) == X509_V_OK)
				issuer = 1;
		if (!issuer)
			leaf = cand;
	}
	if (!leaf) {
		fail(why, n, "cannot tell the signer certificate in KeyInfo");
		goto out;
	}
	store = anchor_store(anchor);
	if (!store) {
		fail(why, n, "cannot load trust anchor '%s'", anchor);
		goto out;
	}
	sc = X509_STORE_CTX_new();
	if (!sc || !X509_STORE_CTX_init(sc, store, leaf, chain)) {
		fail(why, n, "cannot set up certificate verification");
		goto out;
	}
	if (at)
		X509_STORE_CTX_set_time(sc, 0, (time_t)at);
	subject_line(leaf, subj, sizeof subj);
	if (X509_verify_cert(sc) != 1) {
		err = X509_STORE_CTX_get_error(sc);
		if (err == X509_V_ERR_CERT_HAS_EXPIRED)
			fail(why, n, "certificate expired (%s)", subj);
		else if (err == X509_V_ERR_CERT_NOT_YET_VALID)
			fail(why, n, "certificate not yet valid (%s)", subj);
		else
			fail(why, n, "untrusted signer (%s): %s", subj,
			     X509_verify_cert_error_string(err));
		goto out;
	}
	if (org && *org) {
		X509_NAME *name = X509_get_subject_name(leaf);
		int idx = X509_NAME_get_index_by_NID(name, NID_organizationName, -1);
		unsigned char *u = NULL;
		int ul = -1;

		if (idx >= 0 && X509_NAME_get_index_by_NID(name, NID_organizationName, idx) < 0)
			ul = ASN1_STRING_to_UTF8(
				&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
		if (ul < 0 || (size_t)ul != strlen(org) || memcmp(u, org, (size_t)ul)) {
			fail(why, n, "signer organisation is %.*s, expected %s",
			     ul < 0 ? 9 : (ul > 80 ? 80 : ul), ul < 0 ? "not unique" : (char *)u,
			     org);
			OPENSSL_free(u);
			goto out;
		}
		OPENSSL_free(u);
	}
	if (!X509_up_ref(leaf)) {
		fail(why, n, "out of memory");
		goto out;
	}
	*leaf_out = leaf;
	ret = 0;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(sc);
	X509_STORE_free(store);
	sk_X509_pop_free(chain, X509_free);
	return ret;
}

/* An xmlsec key holding the certificate's public key (adopted as it is:
 * re-reading the certificate's DER through libxmlsec1's loader cost a tenth
 * of verifying a packet). */
static xmlSecKeyPtr key_from_cert(X509 *x)
{
	EVP_PKEY *pk = X509_get_pubkey(x);
	xmlSecKeyDataPtr value = pk ? xmlSecOpenSSLEvpKeyAdopt(pk) : NULL;
	xmlSecKeyPtr key = value ? xmlSecKeyCreate() : NULL;

	if (!value)
		EVP_PKEY_free(pk);
	if (!key || xmlSecKeySetValue(key, value) < 0) {
		if (key)
			xmlSecKeyDestroy(key);
		if (value)
			xmlSecKeyDataDestroy(value);
		return NULL;
	}
	return key;
}

int xmlsig_verify(xmlDocPtr doc, const char *trust_anchor_pem, const char *expected_org,
		  const char *expected_subject, char *why, size_t n)
{
	return xmlsig_verify_at(doc, trust_anchor_pem, expected_org, expected_subject, 0, why, n);
}

int xmlsig_verify_at(xmlDocPtr doc, const char *trust_anchor_pem, const char *expected_org,
		     const char *expected_subject, long long at, char *why, size_t n)
{
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL, sig = NULL, last;
	xmlSecDSigCtxPtr ctx = NULL;
	X509 *leaf = NULL;
	int count = 0, ret = -1;

	if (!init_count)
		return fail(why, n, "xmlsig_init() was not called");
	if (!root)
		return fail(why, n, "empty document");
	find_signatures(root, &sig, &count);
	if (count == 0)
		return fail(why, n, "no signature");
	if (count > 1)
		return fail(why, n, "more than one signature");
	if (sig->parent != root)
		return fail(why, n, "signature is not a child of the document root");
	for (last = root->last; last && last->type != XML_ELEMENT_NODE; last = last->prev)
		;
	if (last != sig)
		return fail(why, n, "signature is not the last child of the document root");
	if (check_profile(sig, why, n) < 0)
		return -1;
	if (check_certificate(sig, trust_anchor_pem, expected_org, at, &leaf, why, n) < 0)
		return -1;
	if (expected_subject && *expected_subject && check_subject(leaf, expected_subject, why, n) < 0)
		goto out;

	ctx = xmlSecDSigCtxCreate(NULL);
	if (!ctx) {
		fail(why, n, "cannot create a signature context");
		goto out;
	}
	ctx->enabledReferenceUris = xmlSecTransformUriTypeEmpty;
	if (xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha256Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformEcdsaSha256Id) < 0) {
		fail(why, n, "cannot restrict the signature transforms");
		goto out;
	}
	ctx->signKey = key_from_cert(leaf);
	if (!ctx->signKey) {
		fail(why, n, "cannot use the signer certificate's public key");
		goto out;
	}
	last_xmlsec_error[0] = '\0';
	if (xmlSecDSigCtxVerify(ctx, sig) < 0) {
		fail(why, n, "signature cannot be processed: %.150s", last_xmlsec_error);
		goto out;
	}
	if (ctx->status != xmlSecDSigStatusSucceeded) {
		int bad_ref = 0;
		xmlSecSize sz = xmlSecPtrListGetSize(&ctx->signedInfoReferences);
		for (xmlSecSize i = 0; i < sz; i++) {
			xmlSecDSigReferenceCtxPtr r = xmlSecPtrListGetItem(&ctx->signedInfoReferences, i);
			if (r && r->status != xmlSecDSigStatusSucceeded)
				bad_ref = 1;
		}
		if (bad_ref)
			fail(why, n, "document changed after signing (digest mismatch)");
		else
			fail(why, n, "signature value invalid");
		goto out;
	}
	if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1) {
		fail(why, n, "signature has %d references, expected exactly 1",
		     (int)xmlSecPtrListGetSize(&ctx->signedInfoReferences));
		goto out;
	}
	ret = 0;
out:
	if (ctx)
		xmlSecDSigCtxDestroy(ctx);
	X509_free(leaf);
	ERR_clear_error();
	return ret;
}
