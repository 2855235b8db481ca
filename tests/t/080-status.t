#!/usr/bin/env bash
# status: numbers agree with the database; metrics: the textfile parses as
# Prometheus text format and follows the ledger; rerun: refusals.
. "$(dirname "$0")/../lib/harness.sh"
export PSQL="$PGBIN/psql"
LR=$(dirname "$EB")/tools/ledger-run

"$TOP/fixtures/load.sh" 300 3 >/dev/null
sql "UPDATE accounts SET level = 'standard', data_status = 'verified' WHERE id % 3 = 0" >/dev/null
sql "UPDATE checks SET state = 'error', result = 'timeout' WHERE id % 50 = 0" >/dev/null

eb status
is "$RC" 0 "status runs"
std=$(sql "SELECT count(*) FROM accounts WHERE level = 'standard'")
like "$OUT" "standard +$std\$" "standard accounts count matches ($std)"
simp=$(sql "SELECT count(*) FROM accounts WHERE level = 'simplified'")
like "$OUT" "simplified +$simp\$" "simplified accounts count matches ($simp)"
pend=$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state = 'pending'")
like "$OUT" "pfr pending +$pend\$" "pending PFR checks match ($pend)"
err=$(sql "SELECT count(*) FROM checks WHERE state = 'error'")
like "$OUT" "checks in error .* $err\$" "checks in error listed ($err)"

# a failed batch needs a rerun; a partial one shows through what it left
# (rerunning a partial print batch would reissue every letter in it)
fb=$(sql "INSERT INTO batches (job, status, finished_at) VALUES ('export-checks', 'failed', now()) RETURNING id")
sql "INSERT INTO batches (job, status, finished_at) VALUES ('print-letters', 'partial', now())" >/dev/null
failed=$(sql "SELECT count(*) FROM batches b WHERE status = 'failed'
	AND NOT EXISTS (SELECT 1 FROM batches r WHERE r.rerun_of = b.id AND r.status = 'succeeded')")
eb status
like "$OUT" "failed batches not yet rerun .* $failed\$" "failed batches not yet rerun: $failed (the partial one is not)"
# request packets written long ago and never uploaded, for an agency we upload to
packet() { # AGE
	sql "INSERT INTO packets (id, direction, agency, batch_id, file_name, sha256, records, bytes, status, created_at, check_ids)
	     SELECT u, 'request', 'pfr', $fb, u || '.xml', repeat('0', 64), 0, 0, 'written', now() - interval '$1', '{}'
	     FROM gen_random_uuid() u" >/dev/null
}
packet '2 hours'
packet '1 minute'
unlike "$OUT" "not uploaded" "no upload_url: written packets are not waiting for anything"
CONFIG_EXTRA="[pfr]
upload_url = https://127.0.0.1:9/in/"
write_config
eb status
like "$OUT" "request packets not uploaded for over an hour .* 1\$" "with upload_url: the old written packet is listed, the new one not yet"
CONFIG_EXTRA=""
write_config

eb status --json
is "$RC" 0 "status --json runs"
printf '%s' "$OUT" >"$T/status.json"
got=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["accounts"]["standard"], d["checks"]["fms pending"])' "$T/status.json")
is "$got" "$std $(sql "SELECT count(*) FROM checks WHERE agency = 'fms' AND state = 'pending'")" "JSON numbers match the database"

# last success and failure: the latest finished batch's own time and id, also
# when an earlier batch of overlapping runs finished last
last2() { # STATUS: batches finished 23:50:01 (the first) and 23:45:00 (the second)
	sql "INSERT INTO batches (job, status, started_at, finished_at) VALUES
	     ('overlap-job', '$1', '2030-01-01 23:40', '2030-01-01 23:50:01'),
	     ('overlap-job', '$1', '2030-01-01 23:41', '2030-01-01 23:45:00') RETURNING id" | head -1
}
ls_id=$(last2 succeeded)
lf_id=$(last2 failed)
eb status
like "$OUT" "overlap-job +2030-01-01 23:50:01 \(batch $ls_id\)" "last success: the time and id of one batch"
like "$(sed -n '/^last failure/,/^$/p' <<<"$OUT")" "overlap-job +2030-01-01 23:50:01 \(batch $lf_id\)" \
	"last failure: the time and id of one batch"
eb status --json
printf '%s' "$OUT" >"$T/status.json"
is "$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["last success"]["overlap-job"]); print(d["last failure"]["overlap-job"])' "$T/status.json")" \
	"2030-01-01 23:50:01 (batch $ls_id)
2030-01-01 23:50:01 (batch $lf_id)" "and so in --json"

# metrics follow the ledger and parse as Prometheus text format
export LEDGER_METRICS="$T/metrics/esia.prom"
"$LR" metrics-job >/dev/null 2>&1
ESIA_FAULT=ledger-run.hold:sleep=20 "$LR" metrics-job >"$T/v" 2>&1 &
v=$!
for _ in $(seq 50); do grep -q batch "$T/v" && break; sleep 0.1; done
kill -9 $v; wait $v 2>/dev/null
"$LR" metrics-job >/dev/null 2>&1
ok $? "metrics written by batch_finish"
cat >"$T/promparse.py" <<'PY'
import re, sys
# Prometheus text exposition format: HELP/TYPE comments and samples.
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
sample = re.compile(r'^(%s)(\{(%s)(,%s)*\})? (-?[0-9.eE+]+|NaN|\+Inf|-Inf)$' % (name, label, label))
types, seen = {}, {}
for ln in open(sys.argv[1]):
    ln = ln.rstrip('\n')
    if ln.startswith('# TYPE '):
        _, _, n, t = ln.split(' ', 3)
        assert t in ('gauge', 'counter'), ln
        types[n] = t
    elif ln.startswith('# HELP ') or not ln:
        continue
    else:
        m = sample.match(ln)
        assert m, 'bad sample line: ' + ln
        assert m.group(1) in types, 'sample before its TYPE: ' + ln
        seen[(m.group(1), m.group(2))] = float(m.group(5))
print(int(seen[('esia_batch_failures_total', '{job="metrics-job",scope=""}')]),
      int(seen[('esia_batch_records_total', '{job="metrics-job",scope=""}')]),
      seen[('esia_batch_last_success_timestamp_seconds', '{job="metrics-job",scope=""}')] > 1.7e9)
PY
got=$(/usr/bin/python3 "$T/promparse.py" "$LEDGER_METRICS" 2>&1)
is "$got" "1 2 True" "metrics parse; 1 abandoned run, 2 records, a success timestamp"
is "$(stat -c %a "$LEDGER_METRICS")" 644 "metrics file readable by node_exporter"
unset LEDGER_METRICS

# a run with nothing to do records no batch, but its end is noted for the
# metrics: a stale last-run time means the schedule stopped, not a quiet day
CONFIG_EXTRA="$CONFIG_EXTRA
[metrics]
file = $T/metrics/jobs.prom"
write_config
nb=$(sql "SELECT count(*) FROM batches")
eb import-responses
is "$RC/$OUT" "0/nothing to import" "import with an empty inbox: nothing to do"
is "$(sql "SELECT count(*) FROM batches")" "$nb" "no batch recorded for it"
is "$(sql "SELECT count(*) FROM job_runs WHERE job = 'import-responses' AND scope = ''
	AND last_run_at > now() - interval '1 minute'")" 1 "its run is noted in job_runs"
like "$(cat "$T/metrics/jobs.prom" 2>/dev/null)" 'esia_batch_last_run_timestamp_seconds\{job="import-responses",scope=""\} [0-9]{10}' \
	"and shown as esia_batch_last_run_timestamp_seconds"
got=$(/usr/bin/python3 "$T/promparse.py" "$T/metrics/jobs.prom" 2>&1 | tail -1)
like "$got" "True" "the metrics file still parses"

# two runs finishing together take turns with the file: the import reads the
# ledger, then dawdles before its rename; the archive run that ends meanwhile
# waits, and the file keeps the later picture, which has both
ESIA_FAULT=metrics.read:sleep=4 "$EB" import-responses >"$T/slow.out" 2>&1 &
slow=$!
sleep 1.5
eb archive
is "$RC" 0 "archive with nothing to do"
wait "$slow"
is "$?" 0 "the slow import finished too"
like "$(cat "$T/metrics/jobs.prom")" 'esia_batch_last_run_timestamp_seconds\{job="archive",scope=""\} [0-9]{10}' \
	"the file was not overwritten with the picture read before the archive run ended"

# a metrics file that cannot be written is a warning, the same for a run
# with work and one without: the ledger holds the run either way
keep=$CONFIG_EXTRA
: >"$T/notadir"
CONFIG_EXTRA="[metrics]
file = $T/notadir/jobs.prom"
write_config
eb import-responses
is "$RC" 0 "an idle run with an unwritable metrics file exits 0"
like "$ERR" "event=metrics.unwritten" "with a warning"
LEDGER_METRICS="$T/notadir/jobs.prom" "$LR" metrics-job >"$T/lr.out" 2>&1
is "$?" 0 "a run with a batch and an unwritable metrics file: batch_finish succeeds"
like "$(cat "$T/lr.out")" "event=metrics.unwritten" "warns the same"
is "$(sql "SELECT status FROM batches ORDER BY id DESC LIMIT 1")" "succeeded" "and its batch is not failed for it"
CONFIG_EXTRA=$keep
write_config

# rerun refusals
ok_id=$(sql "SELECT id FROM batches WHERE status = 'succeeded' ORDER BY id LIMIT 1")
eb rerun "$ok_id"
is "$RC" 1 "rerun of a succeeded batch is refused"
like "$ERR" "succeeded; nothing to redo" "and says why"
ab_id=$(sql "SELECT id FROM batches WHERE status = 'abandoned' LIMIT 1")
eb rerun "$ab_id"
is "$RC" 1 "rerun of a batch without a recorded command line is refused"
like "$ERR" "did not record its command line" "and says why"
eb rerun 424242
like "$ERR" "no batch 424242" "rerun of a missing batch"
eb rerun
is "$RC" 2 "rerun without an id is a usage error"

# rerun chains: a batch is settled when a rerun of it, or a rerun of that
# rerun, succeeded (3 failed, 4 rerun of 3 failed, 5 rerun of 4 succeeded)
eb status
before=$(grep -E 'abandoned batches|failed batches' <<<"$OUT")
chain() { # FIRST-STATUS: three batches, the ids
	local a b c argv='{"argv": ["archive"]}'
	a=$(sql "INSERT INTO batches (job, status, finished_at, params) VALUES ('archive', '$1', now(), '$argv') RETURNING id")
	b=$(sql "INSERT INTO batches (job, status, finished_at, params, rerun_of) VALUES ('archive', 'failed', now(), '$argv', $a) RETURNING id")
	c=$(sql "INSERT INTO batches (job, status, finished_at, params, rerun_of) VALUES ('archive', 'succeeded', now(), '$argv', $b) RETURNING id")
	echo "$a $b $c"
}
read -r f1 f2 f3 <<<"$(chain failed)"
read -r a1 a2 a3 <<<"$(chain abandoned)"
eb status
is "$(grep -E 'abandoned batches|failed batches' <<<"$OUT")" "$before" \
	"a failed or abandoned batch whose rerun failed and whose rerun's rerun succeeded is not listed, nor that rerun"
eb rerun "$f1"
is "$RC" 1 "rerun of a batch settled down its chain is refused"
like "$ERR" "already rerun successfully as batch $f3" "and names the rerun that settled it"
eb rerun "$a2"
like "$RC $ERR" "^1 .*already rerun successfully as batch $a3" "so is the rerun of the failed rerun in the middle"
eb rerun "$f1" --force
is "$RC $(sql "SELECT count(*) FROM batches WHERE rerun_of = $f1")" "0 2" "--force runs it again"

# the same work rerun from the first batch again: 3 failed, 4 rerun of 3
# failed, 5 rerun of 3 succeeded settles 4 too; a forced rerun that failed
# after the success is not settled by it
argv='{"argv": ["archive"]}'
s1=$(sql "INSERT INTO batches (job, status, finished_at, params) VALUES ('archive', 'failed', now(), '$argv') RETURNING id")
s2=$(sql "INSERT INTO batches (job, status, finished_at, params, rerun_of) VALUES ('archive', 'failed', now(), '$argv', $s1) RETURNING id")
s3=$(sql "INSERT INTO batches (job, status, finished_at, params, rerun_of) VALUES ('archive', 'succeeded', now(), '$argv', $s1) RETURNING id")
eb status
is "$(grep -E 'abandoned batches|failed batches' <<<"$OUT")" "$before" \
	"a failed rerun whose sibling rerun (of the same batch) succeeded is not listed"
eb rerun "$s2"
like "$RC $ERR" "^1 .*already rerun successfully as batch $s3" "and is not rerun without --force"
s4=$(sql "INSERT INTO batches (job, status, finished_at, params, rerun_of) VALUES ('archive', 'failed', now(), '$argv', $s2) RETURNING id")
eb status
isnt "$(grep -E 'failed batches' <<<"$OUT")" "$(grep -E 'failed batches' <<<"$before")" \
	"a rerun that failed after the tree's success is listed"
eb rerun "$s4"
is "$RC" 0 "and can be rerun"
done_testing
