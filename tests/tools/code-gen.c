/* Test driver: print N activation codes from the real generator, one a line,
 * for statistical tests done elsewhere (tests/t/053-code-stats.t). */
#include <stdio.h>
#include <stdlib.h>

#include "code.h"

int main(int argc, char **argv)
{
	char code[CODE_DIGITS + 1];
	long n = argc > 1 ? atol(argv[1]) : 0;

	if (n <= 0) {
		fprintf(stderr, "usage: code-gen N\n");
		return 2;
	}
	for (long i = 0; i < n; i++) {
		if (code_generate(code))
			return 1;
		puts(code);
	}
	return 0;
}
