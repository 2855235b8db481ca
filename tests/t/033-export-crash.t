#!/usr/bin/env bash
# kill -9 in the middle of export-checks, then run again: the orphan file
# (written, never recorded) is removed, and each pending check ends up in
# exactly one live packet.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/export.sh"
export_setup 80 "[pfr]
max_records = 10
[fms]
max_records = 10"

# 1. killed after the 3rd file is written, before its commit
ESIA_FAULT=export.after_write:kill@3 "$EB" export-checks --agency pfr >"$T/k.out" 2>"$T/k.err"
is "$?" 137 "the run is killed (SIGKILL)"
is "$(sql "SELECT count(*) FROM packets")" 2 "two packets were recorded before the kill"
is "$(ls "$OUTBOX/pfr" | grep -c '\.xml$')" 3 "three files exist: one is an orphan"
orphan=$(for f in "$OUTBOX"/pfr/*.xml; do id=$(basename "$f" .xml); [ "$(sql "SELECT count(*) FROM packets WHERE id = '$id'")" = 0 ] && echo "$id"; done)
ok $([ -n "$orphan" ]; echo $?) "the orphan has no packets row"
for id in $(packet_ids "$OUTBOX/pfr/$orphan.xml"); do
	[ "$(sql "SELECT state FROM checks WHERE id = $id")" = pending ] || { bad=1; }
done
is "${bad:-0}" 0 "its checks are still pending"
dead=$(sql "SELECT id FROM batches ORDER BY id DESC LIMIT 1")
# a temporary a dead writer left, whose pid is now a live process's (this
# shell): the lock its writer held went with it, so it goes too
stale="$OUTBOX/pfr/.$orphan.xml.tmp.$$.Ab12Cd"
cp "$OUTBOX/pfr/$orphan.xml" "$stale"

eb export-checks --agency pfr
ok $([ ! -e "$stale" ]; echo $?) "a dead writer's temporary is removed though its pid is alive again"
ok $([ "$RC" = 0 ] || [ "$RC" = 65 ]; echo $?) "the next run succeeds ($RC)"
like "$ERR" "event=export.orphan_removed agency=pfr packet=$orphan" "it logs the orphan it removed"
like "$OUT" "1 orphan files removed" "and reports it"
ok $([ ! -e "$OUTBOX/pfr/$orphan.xml" ]; echo $?) "the orphan file is gone"
is "$(sql "SELECT status FROM batches WHERE id = $dead")" abandoned "the killed batch is marked abandoned"
check_once pfr "after kill at after_write"

# 2. killed right after a commit: nothing to clean, nothing lost
ESIA_FAULT=export.after_commit:kill@2 "$EB" export-checks --agency fms >/dev/null 2>&1
is "$?" 137 "killed after a commit"
is "$(sql "SELECT count(*) FROM packets WHERE agency = 'fms'")" 2 "two FMS packets recorded"
eb export-checks --agency fms
ok $([ "$RC" = 0 ] || [ "$RC" = 65 ]; echo $?) "the next run finishes the rest ($RC)"
unlike "$ERR" "orphan_removed" "with no orphan to remove"
check_once fms "after kill after commit"

# 3. killed just before a commit (the file is written, the transaction open)
sql "UPDATE accounts SET data_version = data_version + 1 WHERE id <= 30" >/dev/null
sql "INSERT INTO checks (account_id, agency, data_version) SELECT id, 'pfr', data_version FROM accounts WHERE id <= 30" >/dev/null
ESIA_FAULT=export.before_commit:kill@2 "$EB" export-checks --agency pfr >/dev/null 2>&1
is "$?" 137 "killed before a commit"
eb export-checks --agency pfr
ok $([ "$RC" = 0 ] || [ "$RC" = 65 ]; echo $?) "the next run succeeds ($RC)"
like "$ERR" "orphan_removed" "and removes the orphan of the killed transaction"
check_once pfr "after kill before commit"
is "$(sql "SELECT count(*) FROM checks WHERE state = 'sent' AND attempts <> 1")" 0 "no check was counted as sent twice"

# 4. killed before the refused checks are recorded (they go in a transaction
# of their own, after the packets): they are still pending and queued, and
# the next run refuses them once
sql "UPDATE accounts SET data_version = data_version + 1" >/dev/null
sql "INSERT INTO checks (account_id, agency, data_version) SELECT id, 'fms', data_version FROM accounts" >/dev/null
ESIA_FAULT=export.refusals_before_commit:kill@1 "$EB" export-checks --agency fms >/dev/null 2>&1
is "$?" 137 "killed before the refusals commit"
left=$(sql "SELECT count(*) FROM checks c JOIN check_queue q ON q.check_id = c.id WHERE c.agency = 'fms' AND c.state = 'pending'")
ok $([ "$left" -gt 0 ]; echo $?) "the refused checks are still pending and queued ($left)"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'fms' AND state = 'pending'")" "$left" "and only they"
eb export-checks --agency fms
is "$RC" 65 "the next run refuses them (65)"
like "$OUT" "0 checks sent .* $left refused locally" "all $left, sending none"
is "$(sql "SELECT rejected FROM batches ORDER BY id DESC LIMIT 1")" "$left" "its batch counts them"
is "$(sql "SELECT count(DISTINCT n.event_key) FROM checks c JOIN notifications n ON n.event_key = 'check_failed:' || c.id WHERE c.agency = 'fms' AND c.data_version > 1 AND c.state = 'failed'")" "$left" "one check_failed event per refused check"
check_once fms "after kill before the refusals commit"
done_testing
