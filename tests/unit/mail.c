/* MIME building (mail.h) and the SMS helpers (sms.h): encoded words never
 * longer than RFC 2047 allows and decoding back to the input, header lines
 * within 78, no header injection, masks. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mail.h"
#include "sms.h"
#include "tap.h"

/* Decode a folded sequence of =?UTF-8?B?...?= words back to UTF-8; checks
 * each word's length. Returns a malloc'd string or NULL. */
static char *decode_words(const char *s, int *longest_word, int *longest_line)
{
	char *out = calloc(1, strlen(s) + 1), *o = out;
	const char *line = s;

	*longest_word = *longest_line = 0;
	for (const char *p = s; *p; p++)
		if (p[0] == '\r' && p[1] == '\n') {
			if (p - line > *longest_line)
				*longest_line = p - line;
			line = p + 2;
		}
	if ((int)strlen(line) > *longest_line)
		*longest_line = strlen(line);
	while (*s) {
		const char *b, *e;
		unsigned char buf[128];
		int n, pad = 0;

		while (*s == '\r' || *s == '\n' || *s == ' ')
			s++;
		if (!*s)
			break;
		if (strncmp(s, "=?UTF-8?B?", 10) || !(e = strstr(s + 10, "?="))) {
			free(out);
			return NULL;
		}
		b = s + 10;
		if (e + 2 - s > *longest_word)
			*longest_word = e + 2 - s;
		n = EVP_DecodeBlock(buf, (const unsigned char *)b, e - b);
		if (n < 0) {
			free(out);
			return NULL;
		}
		if (e - b >= 1 && e[-1] == '=')
			pad++;
		if (e - b >= 2 && e[-2] == '=')
			pad++;
		memcpy(o, buf, n - pad);
		o += n - pad;
		s = e + 2;
	}
	*o = '\0';
	return out;
}

int main(void)
{
	const char *subj = "Госуслуги: письмо с кодом подтверждения отправлено, почтовый идентификатор ждёт вас";
	char *enc, *dec, b[320], *msg;
	const char *s, *body;
	int lw, ll;
	size_t len;

	enc = mail_encode_header(subj, strlen("Subject: "));
	dec = decode_words(enc, &lw, &ll);
	is_str(dec, subj, "encoded words decode back to the subject");
	ok(lw <= 75, "no encoded word longer than 75 (%d)", lw);
	ok(strcspn(enc, "\r") + strlen("Subject: ") <= 78, "first line within 78 with the header name");
	ok(ll <= 78, "continuation lines within 78 (%d)", ll);
	{
		int high = 0;

		for (const char *p = enc; *p; p++)
			high |= (unsigned char)*p >= 0x80;
		ok(!high, "encoded subject is plain ASCII");
	}
	free(enc);
	free(dec);

	{
		/* bytes that are no UTF-8 where the first word is cut: all kept,
		 * each word within RFC 2047 */
		char bad[80];

		memset(bad, 'a', 41);
		strcpy(bad + 41, "\x80\x80\x80\xd0Тема\xf0\x9f\x98 end");
		enc = mail_encode_header(bad, strlen("Subject: "));
		dec = decode_words(enc, &lw, &ll);
		is_str(dec, bad, "stray bytes at a word's cut decode back as they were");
		ok(lw <= 75 && ll <= 78, "and the words and lines stay within limits (%d, %d)", lw, ll);
		free(enc);
		free(dec);
	}
	{
		/* a header name that leaves no room on the first line: the room
		 * for the first word must not wrap around (it overflowed raw[]) */
		const char *t = "Тема письма длиннее одного закодированного слова, много раз";

		enc = mail_encode_header(t, 70);
		dec = decode_words(enc, &lw, &ll);
		is_str(dec, t, "a long header name: the words still decode back");
		ok(lw <= 75 && ll <= 78, "and later words and lines stay within limits (%d, %d)", lw, ll);
		free(enc);
		free(dec);
		enc = mail_encode_header(t, 1000);
		dec = decode_words(enc, &lw, &ll);
		is_str(dec, t, "so with any used");
		free(enc);
		free(dec);
	}
	enc = mail_encode_header("Plain ASCII subject", 9);
	is_str(enc, "Plain ASCII subject", "plain ASCII stays readable");
	free(enc);
	enc = mail_encode_header("evil\r\nBcc: x@y.z", 9);
	ok(!strstr(enc, "\r\nBcc"), "CR LF in a subject cannot start a new header");
	dec = decode_words(enc, &lw, &ll);
	ok(dec && !strchr(dec, '\n'), "controls are blanked even inside the encoded word");
	free(dec);
	free(enc);
	enc = mail_encode_header("Тема\xc2\x9b" "31m\x7f!", 9);
	dec = decode_words(enc, &lw, &ll);
	is_str(dec, "Тема  31m !", "DEL and a C1 control (CSI) are blanked too, a space a byte");
	free(dec);
	free(enc);

	ok(mail_message_id(42, "gosuslugi.example", b, sizeof(b)) == 0 &&
	   !strcmp(b, "<esia-notice-42@gosuslugi.example>"), "Message-ID from the notice id");
	ok(mail_message_id(42, "bad domain", b, sizeof(b)) == -1, "a domain with a space is refused");
	ok(mail_message_id(42, "", b, sizeof(b)) == -1, "an empty domain is refused");

	ok(mail_addr_ok("ivan@mail.example"), "plain address ok");
	ok(!mail_addr_ok("ivan@mail.example\r\nBcc: x@y"), "address with CR LF refused");
	ok(!mail_addr_ok("Ivan <ivan@mail.example>"), "display-name form refused (bare addresses only)");
	ok(!mail_addr_ok("a@b@c"), "two @ refused");
	ok(!mail_addr_ok("@b"), "empty local part refused");
	ok(!mail_addr_ok("a@"), "empty domain refused");
	{
		char w[256], why[200];
		int intl = -1;
		char long_dom[300];

		ok(mail_addr_wire("ivan@mail.example", w, sizeof(w), &intl, why, sizeof(why)) == 0 &&
			   !strcmp(w, "ivan@mail.example") && intl == 0, "an ASCII address stays as it is");
		ok(mail_addr_wire("Ivan@Почта.РФ", w, sizeof(w), &intl, why, sizeof(why)) == 0 &&
			   !strcmp(w, "Ivan@xn--80a1acny.xn--p1ai") && intl == 0,
		   "a Cyrillic domain in A-labels, lower-cased; the local part untouched (%s)", w);
		ok(mail_addr_wire("пётр@почта.рф", w, sizeof(w), &intl, why, sizeof(why)) == 0 &&
			   !strcmp(w, "пётр@xn--80a1acny.xn--p1ai") && intl == 1,
		   "a non-ASCII local part is kept and flagged");
		ok(mail_addr_wire("oleg@пример\xE2\x98\x83.рф", w, sizeof(w), &intl, why, sizeof(why)) == -1 &&
			   strstr(why, "not a valid internationalised domain name"),
		   "a domain IDNA refuses is refused (%s)", why);
		ok(mail_addr_wire("a b@c", w, sizeof(w), &intl, why, sizeof(why)) == -1, "not a bare address");
		memset(long_dom, 0, sizeof(long_dom));
		memcpy(long_dom, "x@", 2);
		for (int i = 0; i < 60; i++)
			strcat(long_dom, "я."); /* 3 bytes each, 8 in A-labels ("xn--41a.") */
		strcat(long_dom, "рф");
		ok(strlen(long_dom) <= 254 && mail_addr_wire(long_dom, w, sizeof(w), &intl, why, sizeof(why)) == -1,
		   "an address that grows past 254 bytes in A-labels is refused (%s)", why);
	}

	{
		char t[] = "Subject: Тема\n\nТело\nвторая строка\n";

		mail_split_subject(t, &s, &body);
		is_str(s, "Тема", "subject line split off");
		is_str(body, "Тело\nвторая строка\n", "body after the empty line");
	}
	{
		char t[] = "Без темы\n";

		mail_split_subject(t, &s, &body);
		is_str(s, "", "no Subject: line, no subject");
		is_str(body, "Без темы\n", "whole text is the body");
	}

	{
		struct mail m = { .from = "no-reply@gosuslugi.example", .to = "ivan@mail.example",
				  .subject = "Тест", .body = "Строка 1\nСтрока 2",
				  .message_id = "<esia-notice-1@gosuslugi.example>", .date = 0 };

		msg = mail_build(&m, &len);
		ok(msg && strlen(msg) == len, "message built");
		ok(msg && strstr(msg, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"), "RFC 5322 date, English names, UTC");
		ok(msg && strstr(msg, "\r\nContent-Transfer-Encoding: base64\r\n"), "base64 body");
		ok(msg && strstr(msg, "\r\n\r\n0KHRgtGA0L7QutCwIDENCtCh0YLRgNC+0LrQsCAyDQo=\r\n"),
		   "body in canonical CRLF form, base64");
		{
			int high = 0;

			for (size_t i = 0; msg && i < len; i++)
				high |= (unsigned char)msg[i] >= 0x80;
			ok(!high, "the whole message is 7-bit");
		}
		free(msg);
		m.to = "x@y\r\nBcc: z@w";
		ok(mail_build(&m, &len) == NULL, "a bad recipient is refused");
	}

	is_str(mask_email("ivan.petrov@mail.example", b), "***@mail.example", "e-mail masked: no local part");
	is_str(mask_phone("+79123456789", b), "+7*******89", "phone masked");
	ok(sms_units("Госуслуги") == 9, "Cyrillic counts one unit per letter");
	ok(sms_units("a\xF0\x9F\x98\x80") == 3, "an emoji counts two UTF-16 units");
	/* what the gateway gets: json_print_str sends each byte that is no
	 * UTF-8 as one U+FFFD */
	ok(sms_units("a\xF0\x9F\x98") == 4, "an emoji cut short: one unit per byte (%zu)",
	   sms_units("a\xF0\x9F\x98"));
	ok(sms_units("ab\x80\x80") == 4, "stray continuation bytes: one unit each (%zu)", sms_units("ab\x80\x80"));
	return done_testing();
}
