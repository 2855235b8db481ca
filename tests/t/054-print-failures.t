#!/usr/bin/env bash
# print-letters failing cleanly: a broken stylesheet, exhausted tracking
# ranges, an unsafe or missing key, a second run while one holds the lock.
# Each failure leaves no live code and no print files behind.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/letters.sh"
GOOD_CONFIG=$CONFIG_EXTRA
make_accounts

# a stylesheet that makes no pages
mkdir -p "$T/formats"
cp "$TOP"/formats/* "$T/formats/"
sed -i 's|<xsl:apply-templates select="letter"/>||' "$T/formats/letter.xsl"
CONFIG_EXTRA="$GOOD_CONFIG"; write_config
sed -i "s|^formats = .*|formats = $T/formats|" "$T/esia-batch.conf"
eb print-letters
is "$RC" 1 "broken stylesheet: exit 1"
like "$ERR" "made 0 pages for 3 letters" "says what is wrong"
B=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
is "$(sql "SELECT status FROM batches WHERE id = $B")" failed "batch failed"
is "$(sql "SELECT count(*) FROM activation_codes")" 0 "no code recorded"
[ ! -e "$T/spool/print/$B" ]; ok $? "no print files left behind"
is "$(sql "SELECT count(*) FROM tracking_numbers WHERE batch_id = $B")" 3 "its tracking numbers stay burned"

# ranges too small
CONFIG_EXTRA=$(printf '%s\n' "$GOOD_CONFIG" | sed 's|^tracking_ranges = .*|tracking_ranges = 10100025:1-2|'); write_config
eb print-letters
is "$RC" 1 "exhausted ranges: exit 1"
like "$ERR" "ranges exhausted" "says so"
is "$(sql "SELECT count(*) FROM tracking_numbers")" 3 "nothing more burned"
CONFIG_EXTRA=$(printf '%s\n' "$GOOD_CONFIG" | sed 's|^tracking_ranges = .*|tracking_ranges = 10100025:1-99999x|'); write_config
eb print-letters
is "$RC" 1 "malformed range: exit 1"
like "$ERR" "bad range" "names the bad range"

# key file readable by others; no key
CONFIG_EXTRA="$GOOD_CONFIG"; write_config
chmod 0644 "$T/hmac.key"
eb print-letters
is "$RC" 1 "key readable by others: exit 1"
chmod 0600 "$T/hmac.key"
CONFIG_EXTRA=$(printf '%s\n' "$GOOD_CONFIG" | grep -v '^hmac_key'); write_config
eb print-letters
is "$RC" 1 "no key: exit 1"
like "$ERR" "hmac_key is not set" "says so"
eb redeem 1 "123456789012345$(damm 123456789012345)"
is "$RC" 1 "redeem without a key: exit 1"

# one run at a time
CONFIG_EXTRA="$GOOD_CONFIG"; write_config
ESIA_FAULT=print.after_claim:sleep=4 "$EB" print-letters >"$T/first" 2>&1 &
first=$!
for _ in $(seq 50); do grep -q print.claimed "$T/first" && break; sleep 0.1; done
eb print-letters
is "$RC" 75 "a second run while the first holds the lock: exit 75"
wait $first
is "$?" 0 "the first run finishes (the bad address was flagged by an earlier run)"
is "$(sql "SELECT count(*) FROM activation_codes WHERE status = 'live'")" 3 "three live codes"
is "$(sql "SELECT count(*) FROM letters l JOIN tracking_numbers t USING (barcode) WHERE t.batch_id <> l.batch_id")" 0 \
	"numbers burned by the failed run are not printed"
done_testing
