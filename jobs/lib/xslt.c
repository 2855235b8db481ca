#include <stdlib.h>
#include <string.h>

#include <libxslt/security.h>
#include <libxslt/transform.h>
#include <libxslt/xsltInternals.h>
#include <libxslt/xsltutils.h>

#include "err.h"
#include "xslt.h"

struct cached {
	char *path;
	xsltStylesheetPtr sheet;
};

static struct cached cache[16];
static int ncache;
static xsltSecurityPrefsPtr prefs;

static xsltStylesheetPtr load(const char *path)
{
	xsltStylesheetPtr s;

	for (int i = 0; i < ncache; i++)
		if (!strcmp(cache[i].path, path))
			return cache[i].sheet;
	if (ncache == (int)(sizeof(cache) / sizeof(cache[0]))) {
		error("too many stylesheets");
		return NULL;
	}
	if (!prefs) {
		prefs = xsltNewSecurityPrefs();
		xsltSetSecurityPrefs(prefs, XSLT_SECPREF_READ_FILE, xsltSecurityForbid);
		xsltSetSecurityPrefs(prefs, XSLT_SECPREF_WRITE_FILE, xsltSecurityForbid);
		xsltSetSecurityPrefs(prefs, XSLT_SECPREF_CREATE_DIRECTORY, xsltSecurityForbid);
		xsltSetSecurityPrefs(prefs, XSLT_SECPREF_READ_NETWORK, xsltSecurityForbid);
		xsltSetSecurityPrefs(prefs, XSLT_SECPREF_WRITE_NETWORK, xsltSecurityForbid);
	}
	s = xsltParseStylesheetFile((const xmlChar *)path);
	if (!s) {
		error("cannot load stylesheet \"%s\"", path);
		return NULL;
	}
	cache[ncache].path = xstrdup(path);
	cache[ncache].sheet = s;
	ncache++;
	return s;
}

int xslt_apply(const char *formats_dir, const char *xsl_name, xmlDocPtr doc,
	       const char **params, char **out, int *len)
{
	char *path = xasprintf("%s/%s", formats_dir, xsl_name);
	xsltTransformContextPtr tc = NULL;
	xsltStylesheetPtr s = load(path);
	xmlDocPtr res = NULL;
	xmlChar *buf = NULL;
	int n = 0, ret = -1;

	*out = NULL;
	if (!s)
		goto out;
	tc = xsltNewTransformContext(s, doc);
	if (!tc)
		goto out;
	xsltSetCtxtSecurityPrefs(prefs, tc);
	res = xsltApplyStylesheetUser(s, doc, params, NULL, NULL, tc);
	if (!res || tc->state != XSLT_STATE_OK) {
		error("stylesheet \"%s\" failed", path);
		goto out;
	}
	if (xsltSaveResultToString(&buf, &n, res, s) < 0) {
		error("stylesheet \"%s\": cannot serialise the result", path);
		goto out;
	}
	*out = xmalloc(n + 1);
	if (n)
		memcpy(*out, buf, n);
	(*out)[n] = '\0';
	if (len)
		*len = n;
	ret = 0;
out:
	xmlFree(buf);
	xmlFreeDoc(res);
	if (tc)
		xsltFreeTransformContext(tc);
	free(path);
	return ret;
}

void xslt_cleanup(void)
{
	for (int i = 0; i < ncache; i++) {
		xsltFreeStylesheet(cache[i].sheet);
		free(cache[i].path);
	}
	ncache = 0;
	if (prefs)
		xsltFreeSecurityPrefs(prefs);
	prefs = NULL;
	xsltCleanupGlobals();
}
