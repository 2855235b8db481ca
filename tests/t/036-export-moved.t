#!/usr/bin/env bash
# Alone (no --parallel), export-checks takes no row locks: the UPDATE that
# marks a packet's checks sent takes only checks still pending. When a check
# changes while its packet is being written, the count falls short: that
# packet is dropped (file removed, nothing recorded) and the checks still
# pending are taken again, each into exactly one packet.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/export.sh"
export_setup 16 "[pfr]
max_records = 5"

ESIA_FAULT=export.before_mark:sleep=1 "$EB" export-checks --agency pfr >"$T/x.out" 2>"$T/x.err" &
pid=$!
for _ in $(seq 100); do
	ls "$OUTBOX/pfr"/*.xml >/dev/null 2>&1 && break
	sleep 0.1
done
first=$(ls "$OUTBOX/pfr"/*.xml 2>/dev/null | head -1)
ok $([ -n "$first" ]; echo $?) "the first packet file is written, not yet recorded"
# the citizen edits their data meanwhile: the old checks are superseded
moved=$(packet_ids "$first" | head -2 | paste -sd,)
sql "UPDATE checks SET state = 'superseded', reason = 'test' WHERE id IN ($moved)" >/dev/null
wait $pid
rc=$?
ok $([ "$rc" = 0 ] || [ "$rc" = 65 ]; echo $?) "the run completes ($rc)"
like "$(cat "$T/x.err")" "export.claim_lost" "it says the packet was dropped"
ok $([ ! -e "$first" ]; echo $?) "the dropped packet's file is gone"
is "$(sql "SELECT count(*) FROM packets WHERE id = '$(basename "$first" .xml)'")" 0 "and it has no row"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state = 'pending'")" 0 "nothing left pending"
all_packet_ids pfr | sort -n >"$T/ids"
is "$(uniq -d "$T/ids" | wc -l)" 0 "no check in two packets"
is "$(sql "SELECT id FROM checks WHERE agency = 'pfr' AND state = 'sent' ORDER BY id" | md5sum)" "$(md5sum <"$T/ids")" "the files hold exactly the sent checks"
for id in ${moved//,/ }; do
	grep -qx "$id" "$T/ids"
	isnt "$?" 0 "superseded check $id is in no packet"
done
is "$(sql "SELECT count(*) FROM checks WHERE state = 'sent' AND attempts <> 1")" 0 "no check was counted as sent twice"
is "$(sql "SELECT status FROM batches")" succeeded "the batch succeeded"
done_testing
