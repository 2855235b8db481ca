#!/usr/bin/env bash
# Two print-letters --parallel runs over the same accounts, the second one's
# claim cursor opened before the first commits and fetched after: the second
# must not reissue (its snapshot still says "no live code"). Each account
# keeps exactly one live code, no letter is revoked, and every code printed
# in any PDF is recorded and live.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/letters.sh"

# codes DIR: every code printed in DIR/letters.pdf, one a line
codes() {
	pdftotext -layout "$1/letters.pdf" - | grep -Eo '^ *[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4} *$' | tr -d ' '
}

make_many 3
# B declares its cursor (its snapshot: no codes yet) and waits before fetching
ESIA_FAULT=print.after_declare:sleep=4 "$EB" --parallel print-letters >"$T/b.out" 2>"$T/b.err" &
b=$!
for _ in $(seq 100); do grep -q "fault: sleeping" "$T/b.err" && break; sleep 0.1; done
like "$(cat "$T/b.err")" "fault: sleeping" "the second run holds its cursor open"
# A claims, prints and commits meanwhile
eb --parallel print-letters
is "$RC" 0 "the first run prints"
a_b=$(sql "SELECT max(batch_id) FROM letters")
is "$(sql "SELECT count(*) FROM letters WHERE batch_id = $a_b")" 3 "three letters"
wait $b
is "$?" 0 "the second run exits 0"
like "$(cat "$T/b.out")" "nothing to print" "and prints nothing: the accounts were served meanwhile"
like "$(cat "$T/b.err")" "print.served_meanwhile" "it says so in its log"

is "$(sql "SELECT count(*) FROM accounts a WHERE
	(SELECT count(*) FROM activation_codes k WHERE k.account_id = a.id AND k.status = 'live') <> 1")" 0 \
	"every account has exactly one live code"
is "$(sql "SELECT count(*) FROM letters WHERE status = 'revoked'")" 0 "no letter was revoked"
is "$(sql "SELECT count(*) FROM activation_codes WHERE status <> 'live'")" 0 "no code was revoked"
is "$(ls "$T/spool/print")" "$a_b" "only the first run left a print folder"
n=0
for d in "$T"/spool/print/*; do
	for c in $(codes "$d"); do
		n=$((n + 1))
		mac=$(printf %s "$c" | openssl dgst -sha256 -mac HMAC -macopt "key:$(cat "$T/hmac.key")" | awk '{print $NF}')
		st=$(sql "SELECT status FROM activation_codes WHERE code_hmac = decode('$mac', 'hex')")
		ok $([ "$st" = live ] || [ "$st" = used ]; echo $?) "a printed code is recorded and live ($st)"
	done
done
is "$n" 3 "three codes printed in all"
done_testing
