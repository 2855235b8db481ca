/* Quarantined files of a batch, by their .reason files (rejected.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rejected.h"

/* Is the third line of this .reason file exactly "batch: <id>"? Lines 1 and
 * 2 are one line each; a "batch:" line anywhere else is text, not a claim. */
static int names_batch(const char *path, long long id)
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

char *rejected_name(const char *name)
{
	char *s = rejected_is_reason(name) ? xasprintf("%s.xml", name) : xstrdup(name);

	for (unsigned char *p = (unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '_';
	/* a hidden name would be out of rerun's sight */
	if (s[0] == '.')
		s[0] = '_';
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
				if (!rejected_is_reason(file) && names_batch(why, batch))
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
