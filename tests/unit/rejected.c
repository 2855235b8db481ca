/* The names refused files are kept under in rejected/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rejected.h"
#include "tap.h"

static char got[512];

static const char *kept(const char *name)
{
	char *s = rejected_name(name);

	snprintf(got, sizeof(got), "%s", s);
	free(s);
	return got;
}

int main(void)
{
	char name[300];

	is_str(kept("answer-1.xml"), "answer-1.xml", "a plain name is kept as it is");
	is_str(kept("x.xml.reason"), "x.xml.reason.xml", "a name ending in .reason gets .xml");
	is_str(kept(".hidden.xml"), "_hidden.xml", "a hidden name is made visible");
	is_str(kept("a\nbatch: 1"), "a_batch: 1", "a control character becomes _");
	is_str(kept("latin1-\xe9.xml"), "latin1-_.xml", "a byte that is no UTF-8 becomes _");
	is_str(kept("Ответ.xml"), "Ответ.xml", "Cyrillic is kept");
	memset(name, 'L', 240);
	strcpy(name + 240, ".xml");
	ok(strlen(kept(name)) == REJECTED_NAME_MAX, "a long name is cut to %d bytes", REJECTED_NAME_MAX);
	/* cut exactly after ".reason": the kept name must still not be a reason's */
	memset(name, 'L', 300);
	strcpy(name + REJECTED_NAME_MAX - 7, ".reason-and-more");
	kept(name);
	ok(!rejected_is_reason(got), "a cut that ends in .reason gets .xml (%s)", got + 190);
	ok(!rejected_plain_name(name), "a 209-byte name is not plain");
	ok(rejected_plain_name("answer-1.xml"), "answer-1.xml is plain");
	ok(!rejected_plain_name("a\tb"), "a tab is not plain");
	/* what a MANIFEST refuses (manifest.c) would stop the batch's archive */
	ok(!rejected_plain_name("a\xe2\x80\xa8" "b.xml"), "U+2028 is not plain");
	ok(!rejected_plain_name("a\xc2\x9b" "b.xml"), "nor a C1 control (CSI)");
	is_str(kept("a\xe2\x80\xa9" "b.xml"), "a___b.xml", "U+2029 in a kept name becomes _ (a byte each)");
	return done_testing();
}
