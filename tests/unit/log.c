/* Masks for personal data in logs, and key=value quoting. */
#include <stdlib.h>

#include "log.h"
#include "tap.h"
#include "validate.h"

int main(void)
{
	char b[64];

	is_str(mask_snils("112-233-445 95", b), "***-***-*45 95", "SNILS masked as in the issue");
	is_str(mask_snils("11223344595", b), "***-***-*45 95", "SNILS digits only");
	is_str(mask_snils("123", b), "***-***-*** **", "malformed SNILS fully masked");
	is_str(mask_passport("4509 123456", b), "** ** ***456", "passport keeps last 3 digits");
	is_str(mask_passport("45", b), "** ** ******", "malformed passport fully masked");
	is_str(mask_code("1234 5678 9012 3456", b), "****-****-****-****", "code fully masked");
	ok(!strstr(mask_code("1234567890123456", b), "3456"), "no digit of a code survives");
	is_str(log_quote("plain", b, sizeof(b)), "plain", "plain value unquoted");
	is_str(log_quote("two words", b, sizeof(b)), "\"two words\"", "space quoted");
	is_str(log_quote("a\"b", b, sizeof(b)), "\"a\\\"b\"", "quote escaped");
	is_str(log_quote("", b, sizeof(b)), "\"\"", "empty quoted");
	is_str(log_quote("a\nevent=x", b, sizeof(b)), "\"a\\nevent=x\"", "newline escaped: one line");
	is_str(log_quote("a\rb\tc\x1b[0m\x7f", b, sizeof(b)), "\"a\\rb\\tc\\x1b[0m\\x7f\"",
	       "other control characters escaped");
	is_str(log_quote("a\\nb", b, sizeof(b)), "\"a\\\\nb\"", "a backslash is not taken for an escape");
	is_str(log_quote("\x01", b, sizeof(b)), "\"\\x01\"", "a lone control character is quoted");
	{
		char s[8];

		is_str(log_quote("abcdefgh", s, sizeof(s)), "abcdefgh", "plain needs no room");
		is_str(log_quote("ab\ncd", s, sizeof(s)), "\"ab...\"", "cut short: whole escapes, marked");
	}
	{
		char *e = escape_line("say \"x\"\nbatch: 1\\");

		is_str(e, "say \"x\"\\nbatch: 1\\\\", "escape_line: one line, quotes kept");
		free(e);
	}
	{
		size_t n = 0;
		char *e = escape_cut("Жж\x1b" "cd", 5, &n);

		ok(!strcmp(e, "Жж") && n == 2, "escape_cut: characters counted, not bytes; no half escape (%s, %zu)",
		   e, n);
		free(e);
		e = escape_cut("Жж\x1b" "cd", 8, &n);
		ok(!strcmp(e, "Жж\\x1bcd") && n == 8, "escape_cut: all of it in 8 characters (%s, %zu)", e, n);
		free(e);
	}
	{
		char *t = NULL;
		size_t tn = 0;
		FILE *f = open_memstream(&t, &tn);

		print_cell(f, "Жж\x1b", 60, 8);
		fputc('|', f);
		print_cell(f, "toolong", 60, 3);
		fputc('|', f);
		print_cell(f, "Жжжж", 2, 4);
		fclose(f);
		is_str(t, "Жж\\x1b  |toolong|Жж  ", "print_cell: escaped, cut and padded by characters");
		free(t);
	}
	/* C1 controls and bytes that are no UTF-8: escaped byte by byte, UTF-8 kept */
	is_str(log_quote("Статус\xc2\x85y\xc2\x9b" "31m", b, sizeof(b)), "\"Статус\\xc2\\x85y\\xc2\\x9b31m\"",
	       "log_quote: C1 controls (NEL, CSI) escaped");
	is_str(log_quote("caf\xe9.xml", b, sizeof(b)), "\"caf\\xe9.xml\"", "log_quote: a byte that is no UTF-8 escaped");
	/* U+2028/U+2029 end a line for some log readers: one event, one line */
	is_str(log_quote("a\xe2\x80\xa8" "event=x\xe2\x80\xa9", b, sizeof(b)),
	       "\"a\\xe2\\x80\\xa8event=x\\xe2\\x80\\xa9\"", "log_quote: U+2028 and U+2029 escaped");
	{
		char s[16];
		char *e = escape_line("ls\xe2\x80\xa8ps\xe2\x80\xa9");

		is_str(e, "ls\\xe2\\x80\\xa8ps\\xe2\\x80\\xa9", "escape_line: U+2028 and U+2029 escaped");
		free(e);
		/* the escape is 12 bytes: cut before it, not inside */
		is_str(log_quote("ab\xe2\x80\xa8", s, sizeof(s)), "\"ab...\"", "cut short before a whole escape");
	}
	is_str(log_quote("Статус.xml", b, sizeof(b)), "Статус.xml", "log_quote: UTF-8 text stays plain");
	{
		char s[13];

		/* room for one € and a byte of the next: the cut keeps whole characters */
		is_str(log_quote("a b€€€", s, sizeof(s)), "\"a b\xe2\x82\xac...\"", "cut short between characters");
	}
	{
		char *e = escape_line("x\xff\xd0\nbatch: 1\xc2\x85\xed\xa0\x80");

		is_str(e, "x\\xff\\xd0\\nbatch: 1\\xc2\\x85\\xed\\xa0\\x80",
		       "escape_line: bad bytes, a cut sequence, C1 and a surrogate as \\xHH");
		free(e);
	}
	{
		char t[] = "\xcd\xee\xec\xe5\xf0 ok", u[] = "Номер\tзанят\x1b[0m\xc2\x85.",
		     v[] = "ab\xd0", w[] = "\xed\xa0\x80!";

		is_str(clean_text(t), "????? ok", "clean_text: cp1251 bytes become '?'");
		is_str(clean_text(u), "Номер занят [0m  .", "UTF-8 kept, C0 and C1 controls spaces");
		is_str(clean_text(v), "ab?", "a sequence cut short at the end");
		is_str(clean_text(w), "??" "?!", "a surrogate is no character");
	}
	/* beyond the BMP: a valid 4-byte character is text, not \xHH bytes */
	{
		unsigned cp = 0;
		char x[] = "\xf0\x9f\x98\x80!";

		ok(utf8_next((const unsigned char *)"\xf0\x9f\x98\x80", &cp) == 4 && cp == 0x1F600,
		   "utf8_next: U+1F600 is 4 bytes");
		ok(utf8_next((const unsigned char *)"\xf4\x8f\xbf\xbf", &cp) == 4 && cp == 0x10FFFF,
		   "utf8_next: U+10FFFF, the last character");
		ok(utf8_next((const unsigned char *)"\xf0\x8f\xbf\xbf", &cp) < 0, "utf8_next: overlong U+FFFF refused");
		ok(utf8_next((const unsigned char *)"\xf4\x90\x80\x80", &cp) < 0, "utf8_next: U+110000 refused");
		ok(utf8_next((const unsigned char *)"\xf5\x80\x80\x80", &cp) < 0, "utf8_next: lead byte F5 refused");
		ok(utf8_next((const unsigned char *)"\xf8\x88\x80\x80\x80", &cp) < 0, "utf8_next: 5-byte form refused");
		ok(utf8_next((const unsigned char *)"\xf0\x9f\x98", &cp) < 0, "utf8_next: cut short at the end");
		ok(utf8_text("Ли\xf0\xa0\x80\x80 \xf0\x9f\x98\x80"), "utf8_text: CJK Ext-B and an emoji are text");
		is_str(log_quote("smile\xf0\x9f\x98\x80.xml", b, sizeof(b)), "smile\xf0\x9f\x98\x80.xml",
		       "log_quote: an emoji stays plain");
		is_str(log_quote("\xf0\xa0\x80\x80 \xf4\x90\x80\x80\xf0\x8f\xbf\xbf", b, sizeof(b)),
		       "\"\xf0\xa0\x80\x80 \\xf4\\x90\\x80\\x80\\xf0\\x8f\\xbf\\xbf\"",
		       "log_quote: U+20000 kept, past U+10FFFF and overlong as \\xHH");
		{
			char *e = escape_line("a\xf0\x9f\x98\x80\nb\xf0\x9f\x98");

			is_str(e, "a\xf0\x9f\x98\x80\\nb\\xf0\\x9f\\x98", "escape_line: emoji kept, cut one escaped");
			free(e);
		}
		is_str(clean_text(x), "\xf0\x9f\x98\x80!", "clean_text: an emoji is kept");
	}
	return done_testing();
}
