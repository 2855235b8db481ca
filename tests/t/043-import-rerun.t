#!/usr/bin/env bash
# `esia-batch rerun ID` of an import batch that refused packets: the operator
# fixed the cause (here a wrong trust anchor), the packets that batch refused
# move back from rejected/ to the inbox and are imported; others stay put.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/sim/testlib.sh"
# the FMS anchor is misconfigured: the PFR CA
sed -i "s|fms-ca.pem|pfr-ca.pem|" "$T/esia-batch.conf"

load 20 9
requests pfr 10 >/dev/null
requests fms 10 >/dev/null
answer pfr >/dev/null
answer fms >/dev/null
printf 'garbage' >"$SP/inbox/pfr/zz-garbage.xml"
eb import-responses
is "$RC" 65 "genuine FMS answers refused under the wrong anchor: exit 65"
like "$OUT" "imported 2 packets .* 3 rejected" "PFR applied, FMS and the garbage refused"
bad=$(sql "SELECT id FROM batches WHERE job = 'import-responses'")
is "$(sql "SELECT status FROM batches WHERE id = $bad")" partial "the batch is partial"
is "$(ls "$SP/rejected/fms" | grep -c '\.reason$')" 2 "two FMS packets in rejected/ with reasons"
like "$(head -1 "$SP/rejected/fms/"*.reason | grep -m1 signature)" "untrusted signer" "refused as an untrusted signer"

# the operator fixes the configuration and reruns the batch
sed -i "s|^trust_anchor = \(.*\)/pfr-ca.pem$|&|; /^\[fms\]/,/^\[/ s|pfr-ca.pem|fms-ca.pem|" "$T/esia-batch.conf"
grep -q "fms-ca.pem" "$T/esia-batch.conf" || bail "could not fix the config"
eb rerun "$bad"
is "$RC" 65 "the rerun applies the FMS packets; the garbage is refused again"
like "$OUT" "imported 2 packets .* 1 rejected" "two applied, one rejected"
like "$ERR" "import.retry.*fms" "the refused packets were taken back"
is "$(sql "SELECT rerun_of FROM batches ORDER BY id DESC LIMIT 1")" "$bad" "the new batch records rerun_of"
is "$(ls "$SP/rejected/fms" | wc -l)" 0 "rejected/fms is empty"
is "$(ls "$SP/processed/fms" | wc -l)" 2 "the FMS packets are processed"
is "$(ls "$SP/rejected/pfr")" "zz-garbage.xml
zz-garbage.xml.reason" "the garbage is back in rejected/ with a fresh reason"
is "$(sql "SELECT count(*) FROM checks WHERE state = 'sent'")" 0 "every check answered"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'response'")" 4 "four answers recorded"

# killed after moving a refused packet into rejected/ but before the batch row
# counted it: the rerun finds it by its .reason and takes it back as well
printf 'garbage' >"$SP/inbox/fms/zz-lost.xml"
faulty import.after_quarantine:kill import-responses --agency fms
is "$RC" 137 "killed between the quarantine and the batch row"
lost=$(sql "SELECT max(id) FROM batches WHERE job = 'import-responses'")
is "$(sql "SELECT rejected || ' ' || coalesce(params->'rejected', '[]') FROM batches WHERE id = $lost")" "0 []" \
	"the batch row does not list the refused packet"
like "$(cat "$SP/rejected/fms/zz-lost.xml.reason")" "batch: $lost" "its .reason names the batch"
eb rerun "$lost"
is "$RC" 65 "the rerun refuses it again"
like "$ERR" "import.retry file=zz-lost.xml agency=fms" "the unlisted packet was taken back"
last=$(sql "SELECT max(id) FROM batches WHERE job = 'import-responses'")
is "$(sql "SELECT rejected || ' ' || (params->'rejected'->0->>'file') FROM batches WHERE id = $last")" \
	"1 zz-lost.xml" "the new batch counts and lists it"
like "$(cat "$SP/rejected/fms/zz-lost.xml.reason")" "batch: $last" "its .reason names the new batch"
done_testing
