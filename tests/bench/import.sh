#!/bin/sh
# Bench: import-responses on answers for N checks (BENCH_N, default 1,000,000:
# N/2 citizens with a PFR and an FMS check each, packets of 1,000 records).
# Requests are made by SQL (tests/sim/requests.sh), answers by xsltproc and
# signed with xmlsec1, both outside the timing. The import runs BENCH_RUNS
# times (default 3), each on a fresh copy of the database and of the inbox,
# and the median is the figure: one run on this kind of machine varies by 15%
# and more. Prints wall seconds, answers/s, peak RSS, and the floor: COPY of
# the same N result rows into a table. BENCH_FAIL_EVERY (default 10): every
# that many-th answer of a packet fails (1: all fail, the rejection path).
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${BENCH_N:-1000000}
RUNS=${BENCH_RUNS:-3}
export FAIL_EVERY=${BENCH_FAIL_EVERY:-10}
B=${ESIA_BENCH_DIR:?run through make bench}
EB=${ESIA_BATCH:-$TOP/esia-batch}
W=$B/import
export PSQL="$PGBIN/psql"
rm -rf "$W"
mkdir -p "$W/spool"
"$PGBIN/createdb" bench_import
export PGDATABASE=bench_import
sh "$TOP/tests/lib/pki.sh" "$W/pki"
cat >"$W/esia-batch.conf" <<CONF
[database]
conninfo =
[spool]
root = $W/spool
[paths]
formats = $TOP/formats
[pfr]
trust_anchor = $W/pki/pfr-ca.pem
[fms]
trust_anchor = $W/pki/fms-ca.pem
CONF
export ESIA_BATCH_CONFIG="$W/esia-batch.conf"
"$EB" migrate >/dev/null
"$TOP/fixtures/load.sh" $((N / 2)) 1 >/dev/null
for ag in pfr fms; do
	sh "$TOP/tests/sim/requests.sh" $ag "$W/spool/outbox/$ag" 1000 >/dev/null
	mkdir -p "$W/spool/inbox/$ag"
done
echo "answering and signing $N checks (not timed)..."
ls "$W"/spool/outbox/pfr/*.xml "$W"/spool/outbox/fms/*.xml |
	W=$W TOP=$TOP xargs -P 2 -n 20 sh -c '
	for req; do
		ag=$(basename "$(dirname "$req")"); id=$(cat /proc/sys/kernel/random/uuid)
		xsltproc --nonet --stringparam packet-id "$id" --stringparam created-at 2026-01-01T00:00:00Z \
			--param fail-every "$FAIL_EVERY" \
			"$TOP/tests/bench/import-answer.xsl" "$req" >"$W/$id.tmpl"
		xmlsec1 --sign --privkey-pem "$W/pki/$ag-signer.key,$W/pki/$ag-signer.pem" \
			--output "$W/spool/inbox/$ag/$id.xml" "$W/$id.tmpl" 2>/dev/null
		rm -f "$W/$id.tmpl"
	done' sh
"$PSQL" -X -q -c "VACUUM ANALYZE"
mv "$W/spool/inbox" "$W/inbox.saved"

: >"$W/runs"
for r in $(seq "$RUNS"); do
	"$PGBIN/createdb" -T bench_import bench_import_run
	rm -rf "$W/spool/inbox" "$W/spool/processed" "$W/spool/rejected"
	cp -a "$W/inbox.saved" "$W/spool/inbox"
	# the setup's writes (copy, load, signing) are written back now, not
	# during the timed run
	PGDATABASE=bench_import_run "$PSQL" -X -q -c CHECKPOINT && sync
	PGDATABASE=bench_import_run /usr/bin/time -f "%e %M" -o "$W/time" "$EB" --quiet import-responses >/dev/null
	read -r secs rss <"$W/time"
	echo "$secs" >>"$W/runs"
	export PGDATABASE=bench_import_run
	got=$("$PSQL" -X -A -t -c "SELECT count(*) FROM checks WHERE state IN ('passed', 'failed')")
	promoted=$("$PSQL" -X -A -t -c "SELECT count(*) FROM accounts WHERE level = 'standard'")
	rejected=$("$PSQL" -X -A -t -c "SELECT count(*) FROM accounts WHERE data_status = 'rejected'")
	echo "import-responses run $r of $RUNS: N=$N answers in $(ls "$W"/spool/processed/*/ | grep -c xml) packets: ${secs} s," \
		"$(awk -v n="$got" -v s="$secs" 'BEGIN { printf "%d", n / s }') answers/s, peak RSS $((rss / 1024)) MiB;" \
		"answered $got, promoted $promoted, rejected $rejected"
	[ "$r" = "$RUNS" ] || "$PGBIN/dropdb" bench_import_run
done
secs=$(sh "$TOP/tests/bench/median.sh" <"$W/runs")

# floor: the same number of result rows through COPY into a table
"$PSQL" -X -q -c "CREATE TABLE floor (check_id bigint, status text, message text, since date)"
"$PSQL" -X -q -c "\\copy (SELECT id, result, reason, NULL FROM checks) TO '$W/rows.tsv'"
fstart=$(date +%s.%N)
"$PSQL" -X -q -c "\\copy floor FROM '$W/rows.tsv'"
fend=$(date +%s.%N)
floor=$(awk -v a="$fstart" -v b="$fend" 'BEGIN { printf "%.2f", b - a }')

echo "import-responses: runs $(tr '\n' ' ' <"$W/runs")s; median ${secs} s," \
	"$(awk -v n="$N" -v s="$secs" 'BEGIN { printf "%d", n / s }') answers/s"
echo "floor (COPY of $N rows): ${floor} s; ratio $(awk -v a="$secs" -v b="$floor" 'BEGIN { printf "%.1f", a / b }')x"
"$PGBIN/dropdb" bench_import_run
"$PGBIN/dropdb" bench_import
