/* Test driver for jobs/lib/xmlsig (tests/t/031-xmlsig.t):
 *   xmlsig-tool sign KEY.pem CERT.pem IN.xml OUT.xml
 *   xmlsig-tool verify ANCHOR.pem ORG|- IN.xml [AT [SUBJECT]]
 *                                    prints "valid" or the reason
 * Exit 0 valid/signed, 1 invalid or failed, 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "err.h"
#include "safexml.h"
#include "xmlsig.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = xmalloc(1 << 20);
	size_t len;

	if (!f) {
		free(buf);
		return NULL;
	}
	len = fread(buf, 1, (1 << 20) - 1, f);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	char why[512];
	xmlDocPtr doc = NULL;
	int rc = 1;

	if (argc < 2 || (strcmp(argv[1], "sign") && strcmp(argv[1], "verify")) ||
	    (!strcmp(argv[1], "sign") && argc != 6) ||
	    (!strcmp(argv[1], "verify") && (argc < 5 || argc > 7))) {
		fprintf(stderr, "usage: xmlsig-tool sign KEY CERT IN OUT | verify ANCHOR ORG IN [AT [SUBJECT]]\n");
		return 2;
	}
	if (xmlsig_init() < 0)
		return 1;
	if (!strcmp(argv[1], "sign")) {
		char *key = slurp(argv[2]), *cert = slurp(argv[3]);
		struct signer *s = key && cert ? signer_load(key, cert) : NULL;
		doc = s ? safexml_read_file(argv[4], 1 << 26, why, sizeof why) : NULL;
		if (s && !doc)
			fprintf(stderr, "%s\n", why);
		if (doc && xmlsig_sign(doc, s) == 0 && xmlSaveFileEnc(argv[5], doc, "UTF-8") > 0)
			rc = 0;
		signer_free(s);
		free(key);
		free(cert);
	} else {
		doc = safexml_read_file(argv[4], 1 << 26, why, sizeof why);
		if (!doc)
			printf("%s\n", why);
		else if (xmlsig_verify_at(doc, argv[2], strcmp(argv[3], "-") ? argv[3] : NULL,
					  argc == 7 ? argv[6] : NULL, argc >= 6 ? atoll(argv[5]) : 0,
					  why, sizeof why) == 0) {
			printf("valid\n");
			rc = 0;
		} else
			printf("%s\n", why);
	}
	xmlFreeDoc(doc);
	xmlsig_shutdown();
	xmlCleanupParser();
	return rc;
}
