#!/usr/bin/env bash
# export-checks on a full disk (the packet file cannot be made durable): the
# run fails, leaves no file and records nothing; once there is space again
# the next run exports every check exactly once.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/export.sh"
export_setup 30 "[pfr]
max_records = 10"
[ -f "$TOP/build/shim/enospc.so" ] || bail "build/shim/enospc.so is missing (make asan)"
pending=$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state = 'pending'")

# the agency's folder exists, as after any earlier run (creating it on a full
# disk stops the run before it starts): what cannot be made durable is the packet
mkdir -p "$OUTBOX/pfr"
FULL_DIR=$OUTBOX full export-checks --agency pfr
is "$RC" 1 "a full disk fails the run"
like "$ERR" "cannot fsync .*No space left on device" "and says why"
is "$(ls -A "$OUTBOX/pfr" 2>/dev/null | wc -l)" 0 "no packet file and no temporary is left"
is "$(sql "SELECT count(*) FROM packets")" 0 "nothing is recorded"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state = 'pending'")" "$pending" "every check still waits"
is "$(sql "SELECT status FROM batches")" failed "the batch is failed"

eb export-checks --agency pfr
ok $([ "$RC" = 0 ] || [ "$RC" = 65 ]; echo $?) "with space again the next run succeeds ($RC)"
check_once pfr "after the disk had space again"
done_testing
