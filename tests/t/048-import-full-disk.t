#!/usr/bin/env bash
# import-responses on a full disk: a refusal whose .reason cannot be written
# leaves the packet in the inbox and the database as it was; an applied
# packet whose move cannot be made durable stops the run after its commit.
# With space again the next run finishes: every packet applied exactly once.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/sim/testlib.sh"
[ -f "$TOP/build/shim/enospc.so" ] || bail "build/shim/enospc.so is missing (make asan)"

load 30 7
requests pfr 10 >/dev/null
requests fms 10 >/dev/null
answer pfr >/dev/null
answer fms >/dev/null
total=$(inbox_count)
printf 'garbage' >"$T/garbage.xml"

# 1. the first packet must be refused, and its .reason cannot be written
cp "$T/garbage.xml" "$SP/inbox/pfr/00-garbage.xml"
dump "$T/before"
FULL_DIR=$SP/rejected full import-responses
is "$RC" 1 "a full disk fails the run"
like "$ERR" "No space left on device" "and says why"
[ -f "$SP/inbox/pfr/00-garbage.xml" ]
ok $? "the refused packet is still in the inbox"
is "$(find "$SP/rejected" -type f 2>/dev/null | wc -l)" 0 "no .reason and no temporary in rejected/"
dump "$T/after"
is "$(cmp "$T/before" "$T/after" && echo same)" same "the database is unchanged"
rm "$SP/inbox/pfr/00-garbage.xml"

# 2. the first packet applies, but its move into processed/ cannot be synced
# (the agencies' folders there exist, as after any earlier run: creating one
# on a full disk would stop the run before the rename)
mkdir -p "$SP/processed/pfr" "$SP/processed/fms"
FULL_DIR=$SP/processed full import-responses
is "$RC" 1 "the run stops when an applied packet cannot be moved durably"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'response'")" 1 "one packet was committed before that"

# 3. space again: the rest, each once
cp "$T/garbage.xml" "$SP/inbox/pfr/00-garbage.xml"
eb import-responses
is "$RC" 65 "the next run applies the rest and refuses the garbage (exit 65)"
like "$OUT" "imported $((total - 1)) packets .* 0 duplicates, 1 rejected" "every packet not yet applied, once"
[ -f "$SP/rejected/pfr/00-garbage.xml.reason" ]
ok $? "the garbage is quarantined with its reason"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'response' AND status = 'applied'")" "$total" "each answer recorded once"
is "$(sql "SELECT count(*) FROM checks WHERE state = 'sent'")" 0 "every check answered"
awk -F, '$2 == "ok" || $2 == "bad_address" || $2 == "mixed_name" { print $1 }' "$T/reg/fates.csv" >"$T/want"
sql "SELECT id FROM accounts WHERE level = 'standard' ORDER BY id" >"$T/got"
is "$(diff "$T/want" "$T/got" && echo same)" same "the right citizens promoted"
is "$(sql "SELECT count(*) - count(DISTINCT account_id) FROM audit_events WHERE event = 'account.standard'")" 0 "no promotion recorded twice"
done_testing
