/* Activation codes (DESIGN.md §4): 16 decimal digits, the first 15 drawn
 * uniformly from OpenSSL's CSPRNG by rejection sampling (bytes >= 250 are
 * thrown away, so no modulo bias), the 16th a Damm check digit. Damm's
 * quasigroup catches every single-digit error and every transposition of
 * adjacent digits, so a mistyped code is recognised before it costs an
 * attempt. Only HMAC-SHA256(key, 16 ASCII digits) is ever stored. */
#ifndef ESIA_CODE_H
#define ESIA_CODE_H

#include <stddef.h>

#define CODE_DIGITS 16
#define CODE_HMAC_LEN 32

/* Damm check digit of n ASCII digits. */
int code_damm(const char *digits, size_t n);
/* A fresh code: 16 ASCII digits and a NUL into out[17]. 0 or -1. */
int code_generate(char out[CODE_DIGITS + 1]);
/* Typed text -> 16 digits: spaces and hyphens dropped. 0, or -1 when it is
 * not 16 digits; 1 when it is 16 digits but the check digit is wrong. */
int code_normalise(const char *typed, char out[CODE_DIGITS + 1]);
/* HMAC-SHA256 of the 16 digits under key. 0 or -1. */
int code_hmac(const unsigned char *key, size_t keylen, const char *code,
	      unsigned char out[CODE_HMAC_LEN]);
/* Constant-time comparison of two MACs; 1 when equal. */
int code_hmac_equal(const unsigned char *a, const unsigned char *b);

#endif
