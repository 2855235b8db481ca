#!/usr/bin/env bash
# Command table: help, version, usage errors and the validate verb.
. "$(dirname "$0")/../lib/harness.sh"

eb --help
is "$RC" 0 "--help exits 0"
like "$OUT" "export-checks" "help lists export-checks"
like "$OUT" "75 +another run holds the lock" "help documents exit code 75"
eb --version
like "$OUT" "^esia-batch [0-9]+\.[0-9]+" "--version prints a version"
eb
is "$RC" 2 "no command: exit 2"
eb frobnicate
is "$RC" 2 "unknown command: exit 2"
like "$ERR" 'unknown command "frobnicate"' "unknown command is named"
for c in export-checks import-responses print-letters redeem notify archive audit batches batch rerun status migrate config validate; do
	eb "$c" --help
	is "$RC" 0 "$c --help exits 0"
	like "$OUT" "usage: esia-batch" "$c --help prints usage"
done
eb help migrate
like "$OUT" "usage: esia-batch migrate" "help CMD shows the command's help"
eb batches --bogus
is "$RC" 2 "unknown option: exit 2"
# --status is one of the statuses exactly: a part of one matched nothing, silently
for s in run unning "running succeeded" "" Failed; do
	eb batches --status "$s"
	is "$RC" 2 "batches --status \"$s\": usage error"
	like "$ERR" "unknown status \"$s\" \(running, succeeded, failed, partial or abandoned\)" \
		"naming it and the valid statuses"
done
sql "INSERT INTO batches (job, status, finished_at) VALUES ('export-checks', 'failed', now())" >/dev/null
eb batches --status failed
is "$RC" 0 "batches --status failed exits 0"
like "$OUT" "export-checks +failed" "and lists the failed batch"

eb validate snils "112-233-445 95"
is "$RC/$OUT" "0/11223344595" "validate snils valid, normalised"
eb validate snils "112-233-445 96"
is "$RC" 65 "validate snils invalid: exit 65"
like "$ERR" "check number" "reason given"
unlike "$ERR" "112" "the SNILS itself is not echoed"
eb validate phone "+7 (912) 345-67-89" "8 912 345 67 89"
is "$OUT" "+79123456789
+79123456789" "phones to E.164"
eb validate name "Ёлкин" "Smith"
is "$RC" 0 "Cyrillic with Ё and Latin names"
eb validate name "Ивanов"
is "$RC" 65 "mixed-script name refused"
eb validate passport --issued 2010-05-12 --born 1990-01-01 --issuer 770-001 "4509 123456"
is "$RC/$OUT" "0/4509123456" "passport valid"
eb validate passport --issued 2001-05-12 --born 1990-01-01 "4509 123456"
is "$RC" 65 "passport issued before 14 refused"
like "$ERR" "invalid passport \(value 1\)" "the value's position, not argv's"
eb validate snils 11223344595 112
like "$ERR" "invalid snils \(value 2\)" "the second value named as such"
eb validate tracking 80093053624992
is "$RC" 0 "tracking number with right check digit"
eb validate index 1010
is "$RC" 65 "short index refused"
eb validate colour red
is "$RC" 2 "unknown kind: exit 2"
eb batches --limit 3000000000
is "$RC" 2 "a --limit beyond int is a usage error, not a database one"
done_testing
