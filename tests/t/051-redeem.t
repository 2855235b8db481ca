#!/usr/bin/env bash
# redeem: success, mistyped (no attempt counted), wrong, blocked at the
# limit, expired, already used, no code, no account; codes read from the PDF.
LETTERS_EXTRA="max_attempts = 3"
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/letters.sh"

ebl redeem --help
is "$RC" 0 "--help"
like "$OUT" "mistyped" "help lists the outcomes"
ebl redeem
is "$RC" 2 "no arguments: usage"
ebl redeem abc 1234
is "$RC" 2 "account must be a number"

make_accounts
eb print-letters
is "$RC" 65 "letters printed"
B=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
read_codes "$T/spool/print/$B" >"$T/codes"
is "$(wc -l <"$T/codes")" 3 "three codes read from the PDF"
{ read -r a1 c1; read -r a2 c2; read -r a3 c3; } <"$T/codes"
attempts() { sql "SELECT attempts || '/' || status FROM activation_codes WHERE account_id = $1 ORDER BY id DESC LIMIT 1"; }

# mistyped: one digit changed, or two neighbours swapped
d=${c1:5:1}; typo=${c1:0:5}$(((d + 1) % 10))${c1:6}
ebl redeem "$a1" "$typo"
is "$RC" 65 "a changed digit: exit 65"
is "$OUT" mistyped "reported as mistyped"
like "$ERR" "mistyped" "with a clear message"
if [ "${c1:2:1}" != "${c1:3:1}" ]; then swap=${c1:0:2}${c1:3:1}${c1:2:1}${c1:4}; else swap=${c1:0:3}${c1:4:1}${c1:3:1}${c1:5}; fi
ebl redeem "$a1" "$swap"
is "$OUT" mistyped "swapped neighbours: mistyped"
ebl redeem "$a1" 1234 5678
is "$OUT" mistyped "too short: mistyped"
is "$(attempts "$a1")" "0/live" "mistyped codes cost no attempt"

# wrong: a well-formed code (valid check digit) that is not theirs
wrong15=$(printf '%s' "$c1" | cut -c1-14)$(( (${c1:14:1} + 1) % 10 ))
wrong=$wrong15$(damm "$wrong15")
ebl redeem "$a1" "$wrong"
is "$RC" 65 "wrong code: exit 65"
is "$OUT" wrong "reported as wrong"
like "$ERR" "2 attempts left" "says how many attempts are left"
is "$(attempts "$a1")" "1/live" "one attempt counted"

# data edited since the letter (checks pending) or rejected: the code waits,
# unspent; the right code works once the data is verified again
for st in pending rejected; do
	sql "UPDATE accounts SET data_status = '$st' WHERE id = $a1" >/dev/null
	ebl redeem "$a1" "$c1"
	is "$RC" 65 "data $st: exit 65"
	is "$OUT" not-verified "data $st: reported as not verified"
	like "$ERR" "not verified" "data $st: with a clear message"
	is "$(attempts "$a1")" "1/live" "data $st: code still live, no attempt counted"
	is "$(sql "SELECT level FROM accounts WHERE id = $a1")" standard "data $st: account not confirmed"
done
sql "UPDATE accounts SET data_status = 'verified' WHERE id = $a1" >/dev/null

# success with spaces and hyphens
ebl redeem "$a1" "${c1:0:4} ${c1:4:4}-${c1:8:4} ${c1:12:4}"
is "$RC" 0 "right code: exit 0"
is "$OUT" confirmed "reported as confirmed"
is "$(sql "SELECT level FROM accounts WHERE id = $a1")" confirmed "account confirmed"
is "$(attempts "$a1")" "1/used" "code used"
is "$(sql "SELECT count(*) FROM audit_events WHERE event = 'account_confirmed' AND account_id = $a1")" 1 "audit event"
is "$(sql "SELECT count(*) FROM notifications WHERE event_key = 'account_confirmed:$a1'")" 1 "account confirmed notice queued"

# already used
ebl redeem "$a1" - <<<"$c1"
is "$RC" 65 "the same code again (from stdin): exit 65"
is "$OUT" used "reported as used"

# blocked after max_attempts wrong tries; the right code then fails too
wrong2_15=$(printf '%s' "$c2" | cut -c1-14)$(( (${c2:14:1} + 3) % 10 ))
wrong2=$wrong2_15$(damm "$wrong2_15")
ebl redeem "$a2" "$wrong2"; ebl redeem "$a2" "$wrong2"
is "$OUT" wrong "second wrong attempt"
ebl redeem "$a2" "$wrong2"
is "$RC" 65 "third wrong attempt: exit 65"
is "$OUT" blocked "the code is blocked at the limit"
is "$(attempts "$a2")" "3/blocked" "recorded as blocked"
ebl redeem "$a2" "$c2"
is "$OUT" blocked "the right code no longer works"
like "$ERR" "new letter" "and the citizen is told to request a new letter"
is "$(sql "SELECT level FROM accounts WHERE id = $a2")" standard "account not confirmed"

# expired
sql "UPDATE activation_codes SET expires_at = now() - interval '1 minute' WHERE account_id = $a3" >/dev/null
ebl redeem "$a3" "$c3"
is "$RC" 65 "expired code: exit 65"
is "$OUT" expired "reported as expired"
is "$(attempts "$a3")" "0/expired" "marked expired"
is "$(sql "SELECT level FROM accounts WHERE id = $a3")" standard "account not confirmed"

# no code, no account
ebl redeem 5 "$c3"
is "$OUT" no-code "an account without a code"
is "$RC" 65 "exit 65"
ebl redeem 999999 "$c3"
is "$RC" 1 "no such account: exit 1"
like "$ERR" "no account 999999" "and says so"

# --json
ebl --json redeem "$a1" "$c1"
like "$OUT" '"outcome":"used"' "--json gives the outcome"

# the code never reaches the logs
leak=0
for c in "$c1" "$c2" "$c3"; do grep -q "$c" "$T/all.err" && leak=1; done
is "$leak" 0 "codes not in the logs"
done_testing
