/* error() and warning(): one line on stderr, whatever the names they quote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "tap.h"

static char got[1024];

/* What the call printed on stderr (fd 2 pointed at a temporary file). */
#define STDERR_OF(call)                                                      \
	do {                                                                 \
		FILE *t_ = tmpfile();                                        \
		int save_ = dup(2);                                          \
		size_t n_;                                                   \
		fflush(stderr);                                              \
		dup2(fileno(t_), 2);                                         \
		call;                                                        \
		fflush(stderr);                                              \
		dup2(save_, 2);                                              \
		close(save_);                                                \
		rewind(t_);                                                  \
		n_ = fread(got, 1, sizeof(got) - 1, t_);                     \
		got[n_] = '\0';                                              \
		fclose(t_);                                                  \
	} while (0)

int main(void)
{
	const char *evil = "in/evil\nesia-batch: error: forged\x1b[31m\xff\xc2\x9b.xml";

	STDERR_OF(error("cannot open \"%s\": %s", evil, "No such file"));
	is_str(got, "esia-batch: error: cannot open \"in/evil\\nesia-batch: error: forged\\x1b[31m\\xff\\xc2\\x9b.xml\":"
		    " No such file\n", "error(): a name's newline, ESC, bad byte and CSI escaped, one line");
	STDERR_OF(warning("skipped \"%s\"", "tab\there\\n"));
	is_str(got, "esia-batch: warning: skipped \"tab\\there\\\\n\"\n",
	       "warning(): escaped the same way, a backslash doubled so it reads back");
	STDERR_OF(error("cannot read \"%s\": %s", "Входящие/ответ.xml", "Permission denied"));
	is_str(got, "esia-batch: error: cannot read \"Входящие/ответ.xml\": Permission denied\n",
	       "UTF-8 text as it is");
	ok(error("x") == -1, "error() still returns -1");
	return done_testing();
}
