#include "json.h"
#include "validate.h"

void json_print_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		unsigned cp;
		int k = utf8_next(p, &cp);

		if (k < 0) {
			/* RFC 8259 text is UTF-8: a stray byte cannot pass through
			 * raw, and \u00XX would claim a Latin-1 character */
			fputs("\\ufffd", f);
			p++;
			continue;
		}
		p += k;
		switch (cp) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			/* C0 must be escaped; DEL, C1 (NEL, CSI) and U+2028/2029
			 * (line ends to JavaScript and some readers) are, so the
			 * output is one line of printable text */
			if (utf8_line_unsafe(cp))
				fprintf(f, "\\u%04x", cp);
			else
				fwrite(p - k, 1, (size_t)k, f);
		}
	}
	fputc('"', f);
}
