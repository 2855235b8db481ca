/* Quarantined files of a batch, by their .reason files (rejected.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rejected.h"
#include "validate.h"

/* Lines 1 and 2 are one line each; a "batch:" line anywhere else is text,
 * not a claim. */
int rejected_reason_names(const char *path, long long id)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, want[40];
	size_t cap = 0;
	int yes = 0;

	if (!f)
		return 0;
	snprintf(want, sizeof(want), "batch: %lld\n", id);
	if (getline(&line, &cap, f) > 0 && getline(&line, &cap, f) > 0 &&
	    !strncmp(line, "file: ", 6) && getline(&line, &cap, f) > 0)
		yes = !strcmp(line, want);
	free(line);
	fclose(f);
	return yes;
}

int rejected_is_reason(const char *name)
{
	size_t k = strlen(name);

	return k >= 7 && !strcmp(name + k - 7, ".reason");
}

/* Length of the plain character at p (UTF-8, no control character, no
 * U+2028/2029), or 0: utf8_line_text()'s rule, a MANIFEST name's
 * (manifest.c), which every processed or rejected file name must pass for
 * its batch to be archived. */
static int plain_char(const unsigned char *p)
{
	unsigned cp;
	int k = utf8_next(p, &cp);

	return k > 0 && !utf8_line_unsafe(cp) ? k : 0;
}

int rejected_plain_name(const char *name)
{
	return strlen(name) <= REJECTED_NAME_MAX && utf8_line_text(name);
}

char *rejected_name(const char *name)
{
	/* room for the ".xml" added below */
	char *s = xmalloc(strlen(name) + 5), *o = s;

	/* a '_' is never longer than what it replaces; cut at a character's
	 * end once the name is as long as it may be */
	for (const unsigned char *p = (const unsigned char *)name; *p;) {
		int k = plain_char(p);

		if (o - s + (k ? k : 1) > REJECTED_NAME_MAX)
			break;
		if (k) {
			memmove(o, p, (size_t)k);
			o += k;
			p += k;
		} else {
			*o++ = '_';
			p++;
		}
	}
	*o = '\0';
	/* a hidden name would be out of rerun's sight */
	if (s[0] == '.')
		s[0] = '_';
	/* after the cut, which may leave a name ending in ".reason" */
	if (rejected_is_reason(s))
		strcat(s, ".xml");
	return s;
}

static int visible(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

int rejected_of_batch(const char *rejdir, long long batch,
		      int (*fn)(const char *agency, const char *name, void *arg), void *arg)
{
	struct dirent **ags = NULL;
	int na = scandir(rejdir, &ags, visible, alphasort), ret = 0;

	if (na < 0)
		return errno == ENOENT ? 0 : error("cannot open \"%s\": %s", rejdir, strerror(errno));
	for (int a = 0; a < na; a++) {
		char *sub = xasprintf("%s/%s", rejdir, ags[a]->d_name);
		struct dirent **names = NULL;
		int n = ret ? 0 : scandir(sub, &names, visible, alphasort);

		for (int i = 0; i < n; i++) {
			const char *nm = names[i]->d_name;
			size_t k = strlen(nm);

			if (!ret && k > 7 && rejected_is_reason(nm)) {
				char *why = xasprintf("%s/%s", sub, nm), *file = xstrndup(nm, k - 7);

				/* FILE.reason.reason: FILE.reason is a reason, no packet */
				if (!rejected_is_reason(file) && rejected_reason_names(why, batch))
					ret = fn(ags[a]->d_name, file, arg);
				free(file);
				free(why);
			}
			free(names[i]);
		}
		free(names);
		free(sub);
		free(ags[a]);
	}
	free(ags);
	return ret;
}
