/* MANIFEST text: format/parse round trip and refusal of malformed input.
 * The SHA-256 vectors are the published FIPS 180-2 examples. */
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "tap.h"

static int parses(const char *text)
{
	struct manifest m;
	char why[200];
	int r = manifest_parse(&m, text, strlen(text), why, sizeof(why));

	if (!r)
		manifest_release(&m);
	return r == 0;
}

#define HDR "esia-batch archive manifest 1\nseq: 2\nbatch: 7\njob: export-checks\n" \
	    "finished: 2026-11-21T10:00:00Z\ncreated: 2026-11-23T02:00:00Z\nprev: none\n"
#define H64 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

int main(void)
{
	struct manifest m, back;
	char sha[65], why[200], buf[16];
	size_t len;
	char *text;

	sha256_hex("abc", 3, sha);
	is_str(sha, H64, "sha256(\"abc\")");
	sha256_hex("", 0, sha);
	is_str(sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256(\"\")");

	manifest_init(&m);
	m.seq = 3;
	m.batch = 42;
	m.job = strdup("import-responses");
	m.finished = strdup("2026-11-21T10:00:00Z");
	m.created = strdup("2026-11-23T02:00:00Z");
	strcpy(m.prev, H64);
	ok(!manifest_add_file(&m, "processed/pfr/answer 1.xml", 10, H64), "a path with a space is fine");
	ok(!manifest_add_file(&m, "rejected/pfr/x.xml.reason", 0, H64), "an empty file is fine");
	ok(manifest_add_file(&m, "bad\nname", 1, H64), "a newline in a path is refused");
	ok(manifest_add_file(&m, "bad\x1b[2Jname", 1, H64), "an ESC (C0) in a path is refused");
	ok(manifest_add_file(&m, "bad\xc2\x9b" "2Jname", 1, H64), "so is a C1 control (CSI)");
	ok(manifest_add_file(&m, "bad\x7fname", 1, H64), "and DEL");
	ok(manifest_add_file(&m, "caf\xe9.xml", 1, H64), "a byte that is no UTF-8 is refused");
	ok(manifest_add_file(&m, "a\xe2\x80\xa8" "b", 1, H64), "U+2028 (a line end to some readers) is refused");
	ok(!manifest_add_file(&m, "processed/pfr/ответ \xf0\x9f\x98\x80.xml", 1, H64),
	   "Cyrillic and a character beyond the BMP are fine");
	ok(manifest_add_file(&m, "/etc/passwd", 1, H64), "an absolute path is refused");
	ok(manifest_add_file(&m, "outbox/../x", 1, H64), "a .. path is refused");
	manifest_add_packet(&m, "0a1b2c3d-0000-4000-8000-000000000001", "processed/pfr/answer 1.xml");
	manifest_add_missing(&m, "processed/fms/gone.xml");
	/* a name from the database, not a file: escaped, one line */
	manifest_add_missing(&m, "processed/fms/x.xml\nmissing: processed/fms/forged.xml\x1b[2J");
	text = manifest_format(&m, &len);
	ok(!manifest_parse(&back, text, len, why, sizeof(why)), "what we format parses back");
	ok(back.seq == 3 && back.batch == 42 && back.nfiles == 3 && back.npackets == 1 &&
		   back.nmissing == 2, "with every field");
	is_str(back.missing[1], "processed/fms/x.xml\\nmissing: processed/fms/forged.xml\\x1b[2J",
	       "a missing name with a newline and ESC stays one escaped line (nothing forged)");
	is_str(back.prev, H64, "prev");
	is_str(back.files[0].path, "processed/pfr/answer 1.xml", "path with a space");
	ok(back.files[0].size == 10, "size");
	ok(manifest_find(&back, "rejected/pfr/x.xml.reason") != NULL, "find by path");
	is_str(manifest_agency(back.packets[0].path, buf, sizeof(buf)), "pfr", "agency from the path");
	is_str(manifest_agency("print/42/letters.pdf", buf, sizeof(buf)), "", "no agency for print files");
	manifest_release(&back);
	manifest_release(&m);
	free(text);

	ok(parses(HDR "files: 1\n\n" H64 " 3 outbox/pfr/a.xml\n"), "a minimal manifest parses");
	ok(!parses(HDR "files: 2\n\n" H64 " 3 outbox/pfr/a.xml\n"), "a wrong file count is refused");
	ok(!parses(HDR "files: 2\n\n" H64 " 3 a\n" H64 " 4 a\n"), "a repeated path is refused");
	ok(!parses(HDR "files: 1\n\n" H64 " -3 a\n"), "a negative size is refused");
	ok(!parses(HDR "files: 1\n\n" H64 " 3 a\xc2\x9b" "2J\n"), "a C1 control in a listed path is refused");
	ok(!parses(HDR "files: 1\n\n" H64 " 3 caf\xe9\n"), "so is a byte that is no UTF-8");
	ok(!parses(HDR "files: 1\n\n" "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD 3 a\n"),
	   "upper-case hex is refused");
	ok(!parses(HDR "files: 1\n\n" H64 " 3 a"), "no final newline is refused");
	ok(!parses(HDR "files: 0\n"), "no blank line before the files is refused");
	ok(!parses(HDR "seq: 5\nfiles: 0\n\n"), "a repeated header is refused");
	ok(!parses(HDR "colour: blue\nfiles: 0\n\n"), "an unknown header is refused");
	ok(!parses("esia-batch archive manifest 2\nfiles: 0\n\n"), "another format version is refused");
	ok(!parses("esia-batch archive manifest 1\nseq: 1\nfiles: 0\n\n"), "a missing header is refused");
	ok(!parses(HDR "prev: abc\nfiles: 0\n\n"), "a malformed prev is refused");
	{
		char nul[] = HDR "files: 0\n\n";
		struct manifest z;

		nul[5] = '\0';
		ok(manifest_parse(&z, nul, sizeof(nul) - 1, why, sizeof(why)), "a NUL byte is refused");
	}
	return done_testing();
}
