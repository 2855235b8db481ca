#!/usr/bin/env bash
# make demo's script, end to end, with the binary under test: export →
# simulated agencies → import → print → notify → redeem codes read back from
# the PDF → archive → audit verify. Small N; its own var/ and servers.
. "$(dirname "$0")/../lib/harness.sh"

DEMO_VAR=$T/var DEMO_N=120 sh "$TOP/tests/demo.sh" >"$T/demo.out" 2>&1
rc=$?
is "$rc" 0 "the demo runs to the end"
[ "$rc" = 0 ] || tail -30 "$T/demo.out" | sed 's/^/# /'
out=$(cat "$T/demo.out")
like "$out" "[0-9]+ archives checked, 0 failed" "audit verify accepts every archive"
like "$out" "account [0-9]+, page 1: the account is confirmed" "a code read back from the PDF confirms its account"
confirmed=$("$PGBIN/psql" -X -A -t -h "$T/var/pg/sock" -U esia -d esia -c "SELECT count(*) FROM accounts WHERE level = 'confirmed'")
is "$confirmed" 3 "three accounts confirmed by the codes in their letters"
mails=$(find "$T/var/mail/Maildir" -type f | wc -l)
[ "$mails" -gt 0 ]; ok $? "e-mails delivered to the local SMTP server ($mails)"
DEMO_VAR=$T/var sh "$TOP/tests/demo.sh" stop >/dev/null 2>&1
ok $? "make demo-stop stops it"
[ ! -f "$T/var/pg/data/postmaster.pid" ]; ok $? "the demo database is stopped"
done_testing
