#!/usr/bin/env bash
# import-responses killed with -9 just before and just after a packet's
# commit, then run again: every packet is applied exactly once (a packet
# committed but not yet moved is recognised as a duplicate and moved).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/sim/testlib.sh"

load 40 5
requests pfr 10 >/dev/null
requests fms 10 >/dev/null
answer pfr >/dev/null
answer fms >/dev/null
is "$(inbox_count)" 8 "four answers per agency"

# killed after the second PFR packet committed, before it moved
faulty import.after_commit:kill@2 import-responses --agency pfr
is "$RC" 137 "killed after a commit"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'response'")" 2 "two packets committed"
is "$(ls "$SP/inbox/pfr" | wc -l)" 3 "the committed-but-unmoved packet is still in the inbox"
eb import-responses --agency pfr
is "$RC" 0 "the rerun succeeds"
like "$OUT" "imported 2 packets .* 1 duplicate," "it applies the rest and sees the committed one as a duplicate"

# killed before the second FMS packet's commit
faulty import.before_commit:kill@2 import-responses --agency fms
is "$RC" 137 "killed before a commit"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'response' AND agency = 'fms'")" 1 "only the first FMS packet committed"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'fms' AND state = 'sent'")" 30 "the killed packet's checks still wait"
eb import-responses
is "$RC" 0 "the rerun succeeds"
like "$OUT" "imported 3 packets .* 0 duplicates" "it applies the three left"

is "$(sql "SELECT count(*) FROM packets WHERE direction = 'response' AND status = 'applied'")" 8 "each packet recorded once"
is "$(sql "SELECT count(*) FROM checks WHERE state = 'sent'")" 0 "every check answered"
awk -F, '$2 == "ok" || $2 == "bad_address" || $2 == "mixed_name" { print $1 }' "$T/reg/fates.csv" >"$T/want"
sql "SELECT id FROM accounts WHERE level = 'standard' ORDER BY id" >"$T/got"
is "$(diff "$T/want" "$T/got" && echo same)" same "the right citizens promoted"
is "$(sql "SELECT count(*) - count(DISTINCT account_id) FROM audit_events WHERE event = 'account.standard'")" 0 "no promotion recorded twice"
is "$(sql "SELECT count(*) FROM audit_events WHERE event = 'account.standard'")" "$(wc -l <"$T/want")" "one promotion event per citizen"
is "$(sql "SELECT count(*) FROM batches WHERE job = 'import-responses' AND status = 'abandoned'")" 2 "the killed runs are marked abandoned"
is "$(sql "SELECT sum(records) FROM batches WHERE job = 'import-responses'")" 80 "over all runs, each of the 80 results counted once"
is "$(inbox_count)/$(ls "$SP/processed/pfr" "$SP/processed/fms" | grep -c xml)" "0/8" "all eight packets in processed/"
done_testing
