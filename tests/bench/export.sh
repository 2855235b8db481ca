#!/bin/sh
# Bench export-checks: N pending checks (BENCH_N, default 1,000,000) from
# N/2 citizens loaded with fixtures/load.sh. First one agency alone (one
# process, N/2 checks), then fresh copies with both agencies in one run (the
# cron command: PFR and FMS side by side; BENCH_RUNS times, default 3, and the
# median reported: one run on this kind of machine varies by 15% and more),
# each timed with peak RSS against the floor of a COPY out of the same rows.
# Run by `make bench`.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${BENCH_N:-1000000}
RUNS=${BENCH_RUNS:-3}
B=${ESIA_BENCH_DIR:?run through make bench}
EB=${ESIA_BATCH:-$TOP/esia-batch}
DB=bench_export_$$
W=$B/export
mkdir -p "$W"
"$PGBIN/createdb" "$DB"
export PGDATABASE=$DB PSQL="$PGBIN/psql"
sh "$TOP/tests/lib/pki.sh" "$W/pki" >/dev/null
cat >"$W/esia-batch.conf" <<CONF
[database]
conninfo =
[spool]
root = $W/spool
[paths]
formats = $TOP/formats
[signer]
key = $W/pki/esia-signer.key
cert = $W/pki/esia-signer.pem
CONF
export ESIA_BATCH_CONFIG="$W/esia-batch.conf"
"$EB" -q migrate >/dev/null
t0=$(date +%s.%N)
"$TOP/fixtures/load.sh" $((N / 2)) 1 >/dev/null
t1=$(date +%s.%N)
echo "loaded $((N / 2)) citizens ($N checks) in $(echo "$t1 - $t0" | bc) s"
"$PSQL" -X -q -c "VACUUM ANALYZE checks" -c "VACUUM ANALYZE check_queue" -c "VACUUM ANALYZE accounts"
"$PGBIN/createdb" -T "$DB" "${DB}_pfr"

report() { # label agency-filter
	secs=$(tail -1 "$W/time" | cut -d" " -f1)
	rss=$(tail -1 "$W/time" | cut -d" " -f2)
	sent=$("$PSQL" -X -A -t -c "SELECT count(*) FROM checks WHERE state = 'sent' $2")
	refused=$("$PSQL" -X -A -t -c "SELECT count(*) FROM checks WHERE state = 'failed' $2")
	packets=$("$PSQL" -X -A -t -c "SELECT count(*) FROM packets WHERE true $2")
	rate=$(echo "($sent + $refused) / $secs" | bc)
	echo "export-checks $1: N=$N checks=$((sent + refused)) sent=$sent refused=$refused packets=$packets" \
		"user_s=$(tail -1 "$W/time" | cut -d" " -f3) seconds=$secs checks/s=$rate peak_rss_kib=$rss copy_floor_s=$floor ratio=$(echo "scale=1; $secs / $floor" | bc)"
}
floor_of() { # agency-filter: the same rows out of PostgreSQL, nothing else
	t0=$(date +%s.%N)
	"$PSQL" -X -q -c "\\copy (SELECT ch.id, a.family_name, a.first_name, a.patronymic, a.gender, a.birth_date, a.snils, a.passport_series, a.passport_number, a.passport_issue_date, a.passport_issuer_code FROM checks ch JOIN accounts a ON a.id = ch.account_id WHERE ch.state = 'pending' $1 ORDER BY ch.id) TO '/dev/null'"
	t1=$(date +%s.%N)
	floor=$(echo "$t1 - $t0" | bc)
}

# one agency, one process
export PGDATABASE=${DB}_pfr
floor_of "AND ch.agency = 'pfr'"
"$PSQL" -X -q -c CHECKPOINT && sync
/usr/bin/time -f "%e %M %U %S" -o "$W/time" "$EB" -q export-checks --agency pfr || [ $? = 65 ]
report "pfr alone" "AND agency = 'pfr'"
"$PGBIN/dropdb" "${DB}_pfr"

# the cron command: both agencies, side by side, on a fresh copy each run
: >"$W/runs"
for r in $(seq "$RUNS"); do
	"$PGBIN/createdb" -T "$DB" "${DB}_both"
	export PGDATABASE=${DB}_both
	rm -rf "$W/spool"
	floor_of ""
	# the setup's writes (copy, load, signing) are written back now, not
	# during the timed run
	"$PSQL" -X -q -c CHECKPOINT && sync
	/usr/bin/time -f "%e %M %U %S" -o "$W/time" "$EB" -q export-checks || [ $? = 65 ]
	report "both agencies (run $r of $RUNS)" ""
	tail -1 "$W/time" | cut -d" " -f1 >>"$W/runs"
	"$PGBIN/dropdb" "${DB}_both"
done
echo "export-checks both agencies: runs $(tr '\n' ' ' <"$W/runs")s; median $(sh "$TOP/tests/bench/median.sh" <"$W/runs") s"
"$PGBIN/dropdb" "$DB"
rm -rf "$W"
