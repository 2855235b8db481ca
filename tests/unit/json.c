/* json_print_str: strict RFC 8259 output whatever the bytes (archive
 * MANIFESTs are unsigned input to `audit list --json`). */
#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "tap.h"

static char out[256];

static const char *js(const char *s)
{
	FILE *f = fmemopen(out, sizeof(out), "w");

	json_print_str(f, s);
	fclose(f);
	return out;
}

int main(void)
{
	is_str(js("Статус \"a\\b\"\n\t"), "\"Статус \\\"a\\\\b\\\"\\n\\t\"", "UTF-8 kept, quote, backslash, \\n \\t");
	is_str(js("a\x01\x1b[2J"), "\"a\\u0001\\u001b[2J\"", "C0 controls as \\u00XX");
	is_str(js("del\x7f"), "\"del\\u007f\"", "DEL escaped");
	is_str(js("nel\xc2\x85" "csi\xc2\x9b" "31m"), "\"nel\\u0085csi\\u009b31m\"", "C1 controls (NEL, CSI) escaped");
	is_str(js("ls\xe2\x80\xa8ps\xe2\x80\xa9."), "\"ls\\u2028ps\\u2029.\"", "U+2028 and U+2029 escaped");
	is_str(js("caf\xe9.xml"), "\"caf\\ufffd.xml\"", "a byte that is no UTF-8 is U+FFFD");
	is_str(js("\xed\xa0\x80|\xd0"), "\"\\ufffd\\ufffd\\ufffd|\\ufffd\"",
	       "a surrogate and a cut sequence: one U+FFFD per byte");
	is_str(js("\xf0\x9f\x98\x80 \xc2\xa0"), "\"\xf0\x9f\x98\x80 \xc2\xa0\"", "an emoji and U+00A0 pass through");
	return done_testing();
}
