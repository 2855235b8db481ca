/* Validator vectors (DESIGN.md §4). Expected values were worked out by hand
 * and with an independent script, not by this code. */
#include "tap.h"
#include "validate.h"

static int snils_ok(const char *in)
{
	char out[32];
	const char *why;
	return valid_snils(in, out, sizeof(out), &why) == 0;
}

static const char *norm(int (*fn)(const char *, char *, size_t, const char **), const char *in)
{
	static char out[256];
	const char *why;
	return fn(in, out, sizeof(out), &why) ? NULL : out;
}

static int pass_ok(const char *sn, const char *issued, const char *born, const char *issuer)
{
	char out[32];
	const char *why;
	return valid_passport(sn, issued, born, issuer, "2026-11-23", out, sizeof(out), &why) == 0;
}

int main(void)
{
	/* SNILS: the documented pair, then sums 99, 100, 101, 102, 201, 202 */
	ok(snils_ok("112-233-445 95"), "snils 112-233-445 95 is valid");
	ok(!snils_ok("112-233-445 96"), "snils 112-233-445 96 is invalid");
	is_str(norm(valid_snils, "112-233-445 95"), "11223344595", "snils normalised to digits");
	ok(snils_ok("10058205299"), "sum 99 -> check 99");
	ok(!snils_ok("10058205200"), "sum 99 is not 00");
	ok(snils_ok("05023431600"), "sum 100 -> check 00");
	ok(!snils_ok("05023431699"), "sum 100 is not 100 or 99");
	ok(snils_ok("01610339600"), "sum 101 -> check 00");
	ok(snils_ok("70020162101"), "sum 102 -> check 01");
	ok(!snils_ok("70020162102"), "sum 102 is not 02");
	ok(snils_ok("82098123300"), "sum 201 -> check 00");
	ok(snils_ok("91370285800"), "sum 202 -> check 00");
	ok(snils_ok("001-001-998 00"), "001-001-998 is below the checked range");
	ok(snils_ok("000-000-001 77"), "small numbers are not checked");
	ok(!snils_ok("001-001-999 00"), "001-001-999 is checked (sum 65)");
	ok(snils_ok("001-001-999 65"), "001-001-999 65 is valid");
	ok(!snils_ok("1122334459"), "10 digits refused");
	ok(!snils_ok("112233445955"), "12 digits refused");
	ok(!snils_ok("112-233-445 9x"), "letters refused");
	ok(!snils_ok(""), "empty refused");

	/* Passport */
	ok(pass_ok("4509 123456", "2010-05-12", "1990-01-01", "770-001"), "passport valid");
	ok(!pass_ok("4509 12345", NULL, NULL, NULL), "5-digit number refused");
	ok(!pass_ok("450 9123456", NULL, NULL, NULL) == 0, "spaces anywhere, 10 digits ok");
	ok(!pass_ok("4509 123456", "2027-01-01", "1990-01-01", NULL), "future issue date refused");
	ok(!pass_ok("4509 123456", "2003-12-31", "1990-01-01", NULL), "under 14 on issue refused");
	ok(pass_ok("4509 123456", "2004-01-01", "1990-01-01", NULL), "exactly 14 on issue ok");
	ok(!pass_ok("4509 123456", "2010-02-30", "1990-01-01", NULL), "impossible date refused");
	ok(!pass_ok("4509 123456", NULL, NULL, "770-01"), "short issuer code refused");
	is_str(norm(valid_issuer_code, "770001"), "770-001", "issuer code normalised");
	ok(!norm(valid_issuer_code, "77-0001"), "misplaced hyphen refused");

	/* Names */
	is_str(norm(valid_name, "  Ёлкина "), "Ёлкина", "Ё kept, spaces trimmed");
	is_str(norm(valid_name, "ёжиков"), "ёжиков", "lower-case ё");
	is_str(norm(valid_name, "Салтыков-Щедрин"), "Салтыков-Щедрин", "hyphen");
	is_str(norm(valid_name, "O'Brien"), "O'Brien", "Latin with apostrophe");
	is_str(norm(valid_name, "Анна-Мария 2."), "Анна-Мария 2.", "digits and dot");
	ok(!norm(valid_name, "Иванov"), "Cyrillic and Latin mixed refused");
	ok(!norm(valid_name, "Ivanоv"), "Latin with one Cyrillic о refused");
	ok(!norm(valid_name, "Иван_"), "underscore refused");
	ok(!norm(valid_name, "Straße"), "ß refused");
	ok(!norm(valid_name, "   "), "blank refused");
	ok(!norm(valid_name, "--"), "no letters refused");
	ok(!norm(valid_name, "\xd0"), "broken UTF-8 refused");
	/* code points whose low byte is an allowed ASCII character */
	ok(!norm(valid_name, "Ivanov\u0300"), "combining accent U+0300 refused");
	ok(!norm(valid_name, "Ivanov\u2000x"), "en quad U+2000 refused");
	ok(!norm(valid_name, "Ivanov\u202e"), "right-to-left override U+202E refused");
	ok(!norm(valid_name, "Ivanov\u2020"), "dagger U+2020 refused");
	ok(!norm(valid_name, "Иванов\u0427\u042e\u2027"), "hyphenation point U+2027 refused");
	ok(!norm(valid_name, "Ivan\u012e"), "U+012E refused");

	/* Phones */
	is_str(norm(valid_phone, "+7 (912) 345-67-89"), "+79123456789", "+7 (912) 345-67-89");
	is_str(norm(valid_phone, "8 912 345 67 89"), "+79123456789", "8 912 ...");
	is_str(norm(valid_phone, "89123456789"), "+79123456789", "89123456789");
	is_str(norm(valid_phone, "79123456789"), "+79123456789", "79123456789");
	is_str(norm(valid_phone, "9123456789"), "+79123456789", "10 digits");
	ok(!norm(valid_phone, "+8 912 345 67 89"), "+8 refused");
	ok(!norm(valid_phone, "+7 495 123 45 67"), "landline refused");
	ok(!norm(valid_phone, "+7 912 345 67 8"), "too short refused");
	ok(!norm(valid_phone, "+7 912 345 67 8a"), "letters refused");

	/* Postal index and tracking numbers */
	is_str(norm(valid_index, "101000"), "101000", "index 101000");
	ok(!norm(valid_index, "01000"), "5 digits refused");
	ok(!norm(valid_index, "012345"), "leading zero refused");
	is_str(norm(valid_tracking, "80093053624992"), "80093053624992", "DESIGN example");
	ok(!norm(valid_tracking, "80093053624993"), "wrong check digit refused");
	ok(!norm(valid_tracking, "8009305362499"), "13 digits refused");
	ok(tracking_check_digit("1000010000000") == 6, "check digit 1000010000000 -> 6");

	/* Control characters: the edges of C0, DEL and C1 */
	ok(utf8_is_control(0) && utf8_is_control(0x1f) && utf8_is_control(0x7f) &&
	   utf8_is_control(0x80) && utf8_is_control(0x9f), "C0, DEL and C1 are control characters");
	ok(!utf8_is_control(0x20) && !utf8_is_control(0x7e) && !utf8_is_control(0xa0) &&
	   !utf8_is_control(0x2028) && !utf8_is_control(0x1F600),
	   "space, '~', no-break space, U+2028 and an emoji are not");

	/* utf8_line_text: one printable line of UTF-8 (MANIFEST and rejected/ names) */
	ok(utf8_line_text("ответ 1 \xf0\x9f\x98\x80.xml") && utf8_line_text(""),
	   "utf8_line_text: Cyrillic, a space and an emoji are text");
	ok(!utf8_line_text("a\nb") && !utf8_line_text("a\xc2\x9b" "b") && !utf8_line_text("a\x7f") &&
	   !utf8_line_text("a\xe2\x80\xa8" "b") && !utf8_line_text("caf\xe9"),
	   "utf8_line_text: not a newline, CSI, DEL, U+2028 or a byte that is no UTF-8");
	/* utf8_cut: never half a character; a byte that is no UTF-8 is one */
	ok(utf8_cut("xЖЖ", 5, 4) == 3, "utf8_cut: byte 4 inside a letter: cut before it");
	ok(utf8_cut("xЖЖ", 5, 5) == 5, "utf8_cut: all of it fits");
	ok(utf8_cut("xЖЖ", 5, 100) == 5, "utf8_cut: never past len");
	ok(utf8_cut("xЖ\"", 2, 100) == 1, "utf8_cut: a letter across len is left out");
	ok(utf8_cut("\xf0\x9f\x98\x80!", 5, 3) == 0, "utf8_cut: no room for an emoji: nothing");
	ok(utf8_cut("ab\x80\x80\x80", 5, 3) == 3, "utf8_cut: stray continuation bytes count one each");
	ok(utf8_cut("ab\xd0\xd0\x9f", 5, 4) == 3, "utf8_cut: a lone lead byte is one, the letter after it whole");
	return done_testing();
}
