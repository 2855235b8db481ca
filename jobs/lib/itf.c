#include <string.h>

#include "itf.h"

/* Per digit, five elements: 1 = wide. */
static const char *const pattern[10] = {
	"00110", "10001", "01001", "11000", "00101",
	"10100", "01100", "00011", "10010", "01010",
};

int itf_elements(const char *digits, unsigned char *out, int max)
{
	size_t n = strlen(digits);
	int k = 0;

	if (!n || n % 2 || strspn(digits, "0123456789") != n || (size_t)max < 4 + 5 * n + 3)
		return -1;
	/* start: narrow bar, narrow space, narrow bar, narrow space */
	for (int i = 0; i < 4; i++)
		out[k++] = 1;
	for (size_t i = 0; i < n; i += 2) {
		const char *b = pattern[digits[i] - '0'], *s = pattern[digits[i + 1] - '0'];

		for (int j = 0; j < 5; j++) {
			out[k++] = b[j] == '1' ? 0 : 1;
			out[k++] = s[j] == '1' ? 0 : 1;
		}
	}
	/* stop: wide bar, narrow space, narrow bar */
	out[k++] = 0;
	out[k++] = 1;
	out[k++] = 1;
	return k;
}
