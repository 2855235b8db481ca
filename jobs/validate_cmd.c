/* esia-batch validate KIND VALUE...: the domain validators on the command
 * line. Prints each normalised value; the first invalid one ends with 65. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esia-batch.h"
#include "validate.h"

static const char usage[] =
	"esia-batch validate snils|passport|name|phone|index|tracking|issuer VALUE...";

static const char help[] =
	"usage: esia-batch validate KIND [OPTIONS] VALUE...\n"
	"\n"
	"Check values by the domain rules and print each one normalised.\n"
	"\n"
	"  snils     11 digits with the check number: 112-233-445 95 -> 11223344595\n"
	"  passport  series and number \"4509 123456\"; options --issued DATE, --born DATE\n"
	"            (holder at least 14 on the issue date, no future date), --issuer XXX-XXX\n"
	"  issuer    passport issuer code XXX-XXX\n"
	"  name      Cyrillic (with Ё) or Latin letters, digits, - ' . and space, not mixed\n"
	"  phone     Russian mobile -> +79XXXXXXXXX\n"
	"  index     6-digit postal index\n"
	"  tracking  14-digit Russian Post tracking number with check digit\n"
	"\n"
	"Exit: 0 all valid, 65 a value is invalid (reason on stderr), 2 usage.\n";

CMD(cmd_validate)
{
	const char *issued = NULL, *born = NULL, *issuer = NULL, *kind, *why = NULL;
	int i = 2, r;

	(void)ctx;
	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	if (argc < 3)
		return usage_error(usage, "validate needs a kind and at least one value");
	kind = argv[1];
	for (; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--")) {
			i--;
			break;
		}
		if (i + 1 >= argc || strcmp(kind, "passport"))
			return usage_error(usage, "unknown option \"%s\"", argv[i]);
		if (!strcmp(argv[i], "--issued"))
			issued = argv[i + 1];
		else if (!strcmp(argv[i], "--born"))
			born = argv[i + 1];
		else if (!strcmp(argv[i], "--issuer"))
			issuer = argv[i + 1];
		else
			return usage_error(usage, "unknown option \"%s\"", argv[i]);
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc)
		return usage_error(usage, "no value to validate");
	for (int first = i; i < argc; i++) {
		char out[256];
		const char *v = argv[i];

		if (!strcmp(kind, "snils"))
			r = valid_snils(v, out, sizeof(out), &why);
		else if (!strcmp(kind, "passport"))
			r = valid_passport(v, issued, born, issuer, getenv("ESIA_TODAY"), out, sizeof(out), &why);
		else if (!strcmp(kind, "issuer"))
			r = valid_issuer_code(v, out, sizeof(out), &why);
		else if (!strcmp(kind, "name"))
			r = valid_name(v, out, sizeof(out), &why);
		else if (!strcmp(kind, "phone"))
			r = valid_phone(v, out, sizeof(out), &why);
		else if (!strcmp(kind, "index"))
			r = valid_index(v, out, sizeof(out), &why);
		else if (!strcmp(kind, "tracking"))
			r = valid_tracking(v, out, sizeof(out), &why);
		else
			return usage_error(usage, "unknown kind \"%s\"", kind);
		if (r) {
			/* the value itself may be personal data: name only its position */
			fprintf(stderr, "esia-batch: invalid %s (value %d): %s\n", kind, i - first + 1, why);
			return EXIT_DATAERR;
		}
		puts(out);
	}
	return 0;
}
