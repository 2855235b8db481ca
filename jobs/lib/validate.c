#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "validate.h"

/* Keep the digits of in; any character outside allowed is an error. */
static int digits_only(const char *in, const char *allowed, char *d, size_t n)
{
	size_t k = 0;

	for (; *in; in++) {
		if (isdigit((unsigned char)*in)) {
			if (k + 1 >= n)
				return -1;
			d[k++] = *in;
		} else if (!strchr(allowed, *in)) {
			return -1;
		}
	}
	d[k] = '\0';
	return (int)k;
}

static int put(char *out, size_t n, const char *v)
{
	if (strlen(v) + 1 > n)
		return -1;
	strcpy(out, v);
	return 0;
}

int snils_checksum(const char *d)
{
	int sum = 0;

	for (int i = 0; i < 9; i++)
		sum += (d[i] - '0') * (9 - i);
	return sum % 101 % 100;
}

int valid_snils(const char *in, char *out, size_t n, const char **why)
{
	char d[16];

	if (digits_only(in, " -", d, sizeof(d)) != 11) {
		*why = "SNILS must have 11 digits";
		return -1;
	}
	/* numbers up to 001-001-998 were issued before the check number existed */
	if (strncmp(d, "001001998", 9) > 0 &&
	    snils_checksum(d) != (d[9] - '0') * 10 + (d[10] - '0')) {
		*why = "SNILS check number does not match";
		return -1;
	}
	if (put(out, n, d)) {
		*why = "output buffer too small";
		return -1;
	}
	return 0;
}

int valid_date(const char *in, int *y, int *m, int *d)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	char tail;
	int leap;

	if (strlen(in) != 10 || in[4] != '-' || in[7] != '-' ||
	    sscanf(in, "%4d-%2d-%2d%c", y, m, d, &tail) != 3)
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)in[i]))
			return -1;
	if (*y < 1900 || *m < 1 || *m > 12 || *d < 1)
		return -1;
	leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
	return *d > mdays[*m - 1] + (*m == 2 && leap) ? -1 : 0;
}

int valid_issuer_code(const char *in, char *out, size_t n, const char **why)
{
	char d[16], buf[8];

	if (digits_only(in, "-", d, sizeof(d)) != 6 ||
	    (strchr(in, '-') && (strlen(in) != 7 || in[3] != '-'))) {
		*why = "issuer code must be XXX-XXX";
		return -1;
	}
	snprintf(buf, sizeof(buf), "%.3s-%.3s", d, d + 3);
	if (put(out, n, buf)) {
		*why = "output buffer too small";
		return -1;
	}
	return 0;
}

static void today_ymd(const char *today, int *y, int *m, int *d)
{
	if (today && !valid_date(today, y, m, d))
		return;
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	*y = tm.tm_year + 1900;
	*m = tm.tm_mon + 1;
	*d = tm.tm_mday;
}

int valid_passport(const char *sernum, const char *issued, const char *born,
		   const char *issuer, const char *today, char *out, size_t n,
		   const char **why)
{
	char d[16], code[8];
	int iy, im, id, by, bm, bd, ty, tm, td;

	if (digits_only(sernum, " ", d, sizeof(d)) != 10) {
		*why = "passport must be a 4-digit series and a 6-digit number";
		return -1;
	}
	if (issuer && valid_issuer_code(issuer, code, sizeof(code), why))
		return -1;
	if (issued) {
		if (valid_date(issued, &iy, &im, &id)) {
			*why = "issue date is not a valid YYYY-MM-DD date";
			return -1;
		}
		today_ymd(today, &ty, &tm, &td);
		if (iy * 10000 + im * 100 + id > ty * 10000 + tm * 100 + td) {
			*why = "issue date is in the future";
			return -1;
		}
		if (born) {
			if (valid_date(born, &by, &bm, &bd)) {
				*why = "birth date is not a valid YYYY-MM-DD date";
				return -1;
			}
			/* at least 14 years old on the issue date */
			if ((iy - 14) * 10000 + im * 100 + id < by * 10000 + bm * 100 + bd) {
				*why = "holder was under 14 on the issue date";
				return -1;
			}
		}
	}
	if (put(out, n, d)) {
		*why = "output buffer too small";
		return -1;
	}
	return 0;
}

int utf8_next(const unsigned char *s, unsigned *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) {
		*cp = ((s[0] & 0x1F) << 6) | (s[1] & 0x3F);
		return *cp >= 0x80 ? 2 : -1;
	}
	if ((s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
		*cp = ((s[0] & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F);
		/* surrogates are no characters (PostgreSQL refuses them) */
		return *cp >= 0x800 && (*cp < 0xD800 || *cp > 0xDFFF) ? 3 : -1;
	}
	/* beyond the BMP (emoji, CJK Extension B in a name): PostgreSQL keeps
	 * them; an overlong form or one past U+10FFFF is no character */
	if ((s[0] & 0xF8) == 0xF0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
	    (s[3] & 0xC0) == 0x80) {
		*cp = ((s[0] & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3F);
		return *cp >= 0x10000 && *cp <= 0x10FFFF ? 4 : -1;
	}
	return -1;
}

int utf8_text(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned cp;
	int k;

	for (; *u; u += k)
		if ((k = utf8_next(u, &cp)) < 0)
			return 0;
	return 1;
}

int utf8_line_text(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned cp;
	int k;

	for (; *u; u += k)
		if ((k = utf8_next(u, &cp)) < 0 || utf8_line_unsafe(cp))
			return 0;
	return 1;
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = 0;

	if (max > len)
		max = len;
	while (n < max) {
		unsigned cp;
		int k = utf8_next(u + n, &cp);

		if (k < 0)
			k = 1;
		if (n + k > max)
			break;
		n += (size_t)k;
	}
	return n;
}

int utf8_is_control(unsigned cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

int utf8_line_unsafe(unsigned cp)
{
	return utf8_is_control(cp) || cp == 0x2028 || cp == 0x2029;
}

int valid_name(const char *in, char *out, size_t n, const char **why)
{
	const unsigned char *s = (const unsigned char *)in, *end;
	int cyr = 0, lat = 0, letters = 0;
	size_t len;

	while (*s == ' ')
		s++;
	end = s + strlen((const char *)s);
	while (end > s && end[-1] == ' ')
		end--;
	len = end - s;
	if (!len) {
		*why = "name is empty";
		return -1;
	}
	if (len > 100) {
		*why = "name is longer than 100 bytes";
		return -1;
	}
	for (const unsigned char *p = s; p < end;) {
		unsigned cp;
		int k = utf8_next(p, &cp);

		if (k < 0) {
			*why = "name is not valid UTF-8";
			return -1;
		}
		if ((cp >= 0x410 && cp <= 0x44F) || cp == 0x401 || cp == 0x451)
			cyr = ++letters;
		else if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z'))
			lat = ++letters;
		/* ASCII only: strchr() would see just the low byte of U+2020 or U+0300 */
		else if (!(cp >= '0' && cp <= '9') && !(cp < 0x80 && strchr("- '.", (int)cp))) {
			*why = "name may hold only letters, digits, hyphen, space, apostrophe, dot";
			return -1;
		}
		p += k;
	}
	if (cyr && lat) {
		*why = "name mixes Cyrillic and Latin letters";
		return -1;
	}
	if (!letters) {
		*why = "name has no letters";
		return -1;
	}
	if (len + 1 > n) {
		*why = "output buffer too small";
		return -1;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

int valid_phone(const char *in, char *out, size_t n, const char **why)
{
	char d[20], buf[24];
	const char *p = in;
	int k;

	while (*p == ' ')
		p++;
	k = digits_only(*p == '+' ? p + 1 : p, " ()-", d, sizeof(d));
	if (k == 11 && (d[0] == '7' || (d[0] == '8' && *p != '+')))
		memmove(d, d + 1, 11);
	else if (!(k == 10 && *p != '+')) {
		*why = "phone must be a Russian number: +7 and 10 digits";
		return -1;
	}
	if (d[0] != '9') {
		*why = "not a mobile number (must start +79)";
		return -1;
	}
	snprintf(buf, sizeof(buf), "+7%s", d);
	if (put(out, n, buf)) {
		*why = "output buffer too small";
		return -1;
	}
	return 0;
}

int valid_index(const char *in, char *out, size_t n, const char **why)
{
	char d[16];

	if (digits_only(in, "", d, sizeof(d)) != 6 || d[0] == '0') {
		*why = "postal index must be 6 digits, not starting with 0";
		return -1;
	}
	if (put(out, n, d)) {
		*why = "output buffer too small";
		return -1;
	}
	return 0;
}

int tracking_check_digit(const char *d)
{
	int odd = 0, even = 0;

	for (int i = 0; i < 13; i++) {
		if (i % 2 == 0)
			odd += d[i] - '0';
		else
			even += d[i] - '0';
	}
	return (10 - (odd * 3 + even) % 10) % 10;
}

int valid_tracking(const char *in, char *out, size_t n, const char **why)
{
	char d[20];

	if (digits_only(in, " ", d, sizeof(d)) != 14) {
		*why = "tracking number must have 14 digits";
		return -1;
	}
	if (tracking_check_digit(d) != d[13] - '0') {
		*why = "tracking number check digit does not match";
		return -1;
	}
	if (put(out, n, d)) {
		*why = "output buffer too small";
		return -1;
	}
	return 0;
}

/* Reasons reach citizens in their check-failed notice, in Russian like the
 * agencies' answers; operators see the same text on the check. */
const char *valid_why_ru(const char *why)
{
	static const char *const ru[][2] = {
		{ "SNILS must have 11 digits", "номер должен состоять из 11 цифр" },
		{ "SNILS check number does not match", "контрольное число не сходится, проверьте номер" },
		{ "issuer code must be XXX-XXX", "код должен иметь вид XXX-XXX" },
		{ "passport must be a 4-digit series and a 6-digit number",
		  "серия должна состоять из 4 цифр, номер из 6 цифр" },
		{ "issue date is not a valid YYYY-MM-DD date", "дата выдачи указана неверно" },
		{ "issue date is in the future", "дата выдачи ещё не наступила" },
		{ "birth date is not a valid YYYY-MM-DD date", "дата рождения указана неверно" },
		{ "holder was under 14 on the issue date",
		  "паспорт выдан до 14 лет, укажите данные действующего паспорта" },
		{ "name is empty", "не указано" },
		{ "name is longer than 100 bytes", "слишком длинное" },
		{ "name is not valid UTF-8", "содержит недопустимые символы" },
		{ "name may hold only letters, digits, hyphen, space, apostrophe, dot",
		  "допустимы только буквы, цифры, дефис, пробел, апостроф и точка" },
		{ "name mixes Cyrillic and Latin letters", "написано вперемешку кириллицей и латиницей" },
		{ "name has no letters", "не содержит ни одной буквы" },
	};

	for (size_t i = 0; i < sizeof(ru) / sizeof(ru[0]); i++)
		if (!strcmp(why, ru[i][0]))
			return ru[i][1];
	return why;
}
