#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "code.h"
#include "err.h"

/* The totally anti-symmetric quasigroup of order 10 from Damm's thesis. */
static const unsigned char damm[10][10] = {
	{ 0, 3, 1, 7, 5, 9, 8, 6, 4, 2 },
	{ 7, 0, 9, 2, 1, 5, 4, 8, 6, 3 },
	{ 4, 2, 0, 6, 8, 7, 1, 3, 5, 9 },
	{ 1, 7, 5, 0, 9, 8, 3, 4, 2, 6 },
	{ 6, 1, 2, 3, 0, 4, 5, 9, 7, 8 },
	{ 3, 6, 7, 4, 2, 0, 9, 5, 8, 1 },
	{ 5, 8, 6, 9, 7, 2, 0, 1, 3, 4 },
	{ 8, 9, 4, 5, 3, 6, 2, 0, 1, 7 },
	{ 9, 4, 3, 8, 6, 1, 7, 2, 0, 5 },
	{ 2, 5, 8, 1, 4, 3, 6, 7, 9, 0 },
};

int code_damm(const char *digits, size_t n)
{
	int interim = 0;

	for (size_t i = 0; i < n; i++)
		interim = damm[interim][digits[i] - '0'];
	return interim;
}

int code_generate(char out[CODE_DIGITS + 1])
{
	unsigned char buf[32];
	size_t have = 0, used = sizeof(buf);

	while (have < CODE_DIGITS - 1) {
		if (used == sizeof(buf)) {
			if (RAND_bytes(buf, sizeof(buf)) != 1)
				return error("the random number generator failed");
			used = 0;
		}
		/* 250 = 25 * 10: the largest multiple of 10 a byte can hold */
		if (buf[used] < 250)
			out[have++] = (char)('0' + buf[used] % 10);
		used++;
	}
	out[CODE_DIGITS - 1] = (char)('0' + code_damm(out, CODE_DIGITS - 1));
	out[CODE_DIGITS] = '\0';
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

int code_normalise(const char *typed, char out[CODE_DIGITS + 1])
{
	size_t n = 0;

	for (const char *p = typed; *p; p++) {
		if (*p == ' ' || *p == '-' || *p == '\t')
			continue;
		if (*p < '0' || *p > '9' || n == CODE_DIGITS)
			return -1;
		out[n++] = *p;
	}
	out[n] = '\0';
	if (n != CODE_DIGITS)
		return -1;
	return code_damm(out, CODE_DIGITS) == 0 ? 0 : 1;
}

int code_hmac(const unsigned char *key, size_t keylen, const char *code,
	      unsigned char out[CODE_HMAC_LEN])
{
	unsigned int len = 0;

	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)code, CODE_DIGITS, out,
		  &len) || len != CODE_HMAC_LEN)
		return error("HMAC-SHA256 failed");
	return 0;
}

int code_hmac_equal(const unsigned char *a, const unsigned char *b)
{
	return CRYPTO_memcmp(a, b, CODE_HMAC_LEN) == 0;
}
