#!/usr/bin/env bash
# Re-request: checks sent and unanswered after response_timeout go out again
# in a new packet while attempts < max_attempts; the old packet, with none of
# its checks still waiting on it, becomes superseded; after max_attempts the
# check becomes error/timeout for the operators.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/export.sh"
export_setup 12 "[pfr]
response_timeout = 1h
max_attempts = 2"

eb export-checks --agency pfr
ok $([ "$RC" = 0 ] || [ "$RC" = 65 ]; echo $?) "first export ($RC)"
first=$(sql "SELECT id FROM packets")
sent=$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state = 'sent'")
[ "$sent" -gt 0 ] || bail "nothing sent"
# two hours pass for what is in flight: the checks and the packets that
# carry them were sent together (timeouts are found through the packets)
age_sent() {
	sql "UPDATE checks SET sent_at = now() - interval '2 hours' WHERE state = 'sent';
	     UPDATE packets SET created_at = now() - interval '2 hours'
	      WHERE status IN ('written', 'uploaded')" >/dev/null
}
eb export-checks --agency pfr
is "$RC" 0 "right away: nothing to do"
like "$OUT" "nothing to do" "the checks are not due yet"

# one answered check must not be re-requested
answered=$(sql "SELECT min(id) FROM checks WHERE agency = 'pfr' AND state = 'sent'")
sql "UPDATE checks SET state = 'passed', result = 'match', answered_at = now() WHERE id = $answered" >/dev/null
age_sent
eb export-checks --agency pfr
is "$RC" 0 "the re-request run succeeds"
like "$OUT" "1 packets, $((sent - 1)) checks sent \($((sent - 1)) re-requested\)" "the unanswered checks go out again"
second=$(sql "SELECT id FROM packets WHERE id <> '$first'")
is "$(sql "SELECT count(*) FROM checks WHERE packet_id = '$second' AND attempts = 2 AND state = 'sent'")" "$((sent - 1))" "in a new packet, attempt 2"
is "$(packet_ids "$OUTBOX/pfr/$second.xml" | wc -l)" "$((sent - 1))" "the new file holds them"
packet_ids "$OUTBOX/pfr/$second.xml" | grep -qx "$answered"
isnt "$?" 0 "the answered check is not asked again"
xmlsec1 --verify --trusted-pem "$PKI/esia-ca.pem" "$OUTBOX/pfr/$second.xml" >/dev/null 2>&1
is "$?" 0 "the new packet verifies"
is "$(sql "SELECT status FROM packets WHERE id = '$first'")" superseded "the first packet, none of whose checks wait on it any more, is superseded"

age_sent
eb export-checks --agency pfr
is "$RC" 0 "the run after max_attempts succeeds"
like "$OUT" "0 packets, 0 checks sent .* $((sent - 1)) timed out" "and reports the timeouts"
is "$(sql "SELECT count(*) FROM checks WHERE state = 'error' AND result = 'timeout' AND reason = 'no answer after 2 requests'")" "$((sent - 1))" "the checks become error/timeout with a reason"
is "$(sql "SELECT status FROM packets WHERE id = '$second'")" superseded "the second packet, with nothing waiting on it, is superseded"
is "$(ls "$OUTBOX/pfr" | wc -l)" 2 "no new file"
done_testing
