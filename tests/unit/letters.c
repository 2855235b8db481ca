/* Unit tests for the letter modules: the Damm check digit catches every
 * single-digit error and adjacent transposition; code normalisation; HMAC
 * comparison; ITF element layout; tracking ranges; F103 fields defused
 * against spreadsheet formulas. */
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "err.h"
#include "itf.h"
#include "post_registry.h"
#include "tap.h"
#include "tracking.h"
#include "validate.h"

int main(void)
{
	char code[CODE_DIGITS + 1], typo[CODE_DIGITS + 1], out[CODE_DIGITS + 1];
	int single = 0, swaps = 0, missed = 0;

	ok(code_damm("572", 3) == 4, "Damm check digit of 572 is 4 (published example)");
	for (int n = 0; n < 200; n++) {
		if (code_generate(code))
			missed++;
		if (code_normalise(code, out) != 0 || strcmp(out, code))
			missed++;
		for (int i = 0; i < CODE_DIGITS; i++)
			for (char d = '0'; d <= '9'; d++) {
				if (d == code[i])
					continue;
				memcpy(typo, code, sizeof(code));
				typo[i] = d;
				single++;
				if (code_normalise(typo, out) != 1)
					missed++;
			}
		for (int i = 0; i + 1 < CODE_DIGITS; i++) {
			if (code[i] == code[i + 1])
				continue;
			memcpy(typo, code, sizeof(code));
			typo[i] = code[i + 1];
			typo[i + 1] = code[i];
			swaps++;
			if (code_normalise(typo, out) != 1)
				missed++;
		}
	}
	ok(missed == 0, "all %d single-digit errors and %d adjacent swaps caught, codes accepted",
	   single, swaps);

	ok(code_normalise("1234", out) == -1, "too short: not a code");
	ok(code_normalise("12345678901234567", out) == -1, "too long: not a code");
	ok(code_normalise("1234a678901234567", out) == -1, "letters: not a code");
	ok(code_generate(code) == 0 && strlen(code) == CODE_DIGITS, "a code is 16 digits");
	{
		char spaced[64];

		snprintf(spaced, sizeof(spaced), " %.4s %.4s-%.4s - %.4s ", code, code + 4, code + 8,
			 code + 12);
		ok(code_normalise(spaced, out) == 0 && !strcmp(out, code), "spaces and hyphens dropped");
	}
	{
		unsigned char k[32] = { 1 }, a[32], b[32];

		code_hmac(k, sizeof(k), code, a);
		code_hmac(k, sizeof(k), code, b);
		ok(code_hmac_equal(a, b), "same code, same MAC");
		k[0] = 2;
		code_hmac(k, sizeof(k), code, b);
		ok(!code_hmac_equal(a, b), "another key, another MAC");
	}

	{
		unsigned char el[200];
		int n = itf_elements("80093053624992", el, sizeof(el)), wide = 0;

		ok(n == 4 + 5 * 14 + 3, "ITF: start + 5 elements per digit + stop (%d)", n);
		for (int i = 4; i < 4 + 70; i++)
			wide += el[i] == 0;
		ok(wide == 2 * 14, "ITF: two wide elements per digit");
		ok(itf_elements("123", el, sizeof(el)) == -1, "ITF: odd length refused");
		ok(itf_elements("12a4", el, sizeof(el)) == -1, "ITF: non-digits refused");
	}

	{
		struct tracking_range *r = NULL;
		char num[15];
		const char *why;
		int n = tracking_parse_ranges("80093053:1-99999, 10100025:10-20", &r);

		ok(n == 2 && r[1].first == 10 && r[1].last == 20, "two ranges parsed");
		tracking_format(&r[0], 62499, num);
		is_str(num, "80093053624992", "DESIGN.md example number");
		ok(valid_tracking(num, num, sizeof(num), &why) == 0, "formatted numbers validate");
		free(r);
		ok(tracking_parse_ranges("8009305:1-5", &r) == -1, "7-digit prefix refused");
		ok(tracking_parse_ranges("80093053:5-1", &r) == -1, "empty range refused");
		ok(tracking_parse_ranges("80093053:1-100000", &r) == -1, "serial over 5 digits refused");
		ok(tracking_parse_ranges("", &r) == -1, "no ranges refused");
	}

	{
		/* a field a spreadsheet could take for a formula starts with a
		 * quote mark; the TAB or CR some skip before the = included */
		static const char *const lead[][3] = {
			{ "=1+1", "'=1+1", "=" }, { "+1", "'+1", "+" }, { "-1", "'-1", "-" },
			{ "@SUM(A1)", "'@SUM(A1)", "@" }, { "\t=1+1", "'\t=1+1", "TAB" },
			{ "\r=1+1", "'\r=1+1", "CR" }, { "Иванов", "Иванов", "a letter (left as is)" },
		};

		for (size_t i = 0; i < sizeof(lead) / sizeof(lead[0]); i++) {
			struct post_item it = { .family = lead[i][0], .first = "Иван", .patronymic = "",
						.index = "101000", .region = "", .district = "",
						.locality = "Москва", .street = lead[i][0], .house = "1",
						.flat = "", .barcode = "80093053624992", .mass = 20 };
			char *row = NULL, *want;
			size_t len = 0;
			FILE *f = open_memstream(&row, &len);

			post_f103_row(f, 1, &it);
			fclose(f);
			want = xasprintf("\"1\",\"%s Иван\",\"%s, д. 1, Москва, 101000\",\"80093053624992\",\"20\"\r\n",
					 lead[i][1], lead[i][1]);
			is_str(row, want, "F103 addressee and address starting with %s", lead[i][2]);
			free(want);
			free(row);
		}
	}
	return done_testing();
}
