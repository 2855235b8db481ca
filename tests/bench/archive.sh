#!/bin/sh
# Bench: archive one export-checks batch of N request packets (~6 KiB each,
# default N=5000) into a signed tar.xz, then audit verify's hash pass.
# Floor: GNU tar + xz of the same files (what packing alone costs).
set -eu
N=${BENCH_N:-5000}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
D=$ESIA_BENCH_DIR/archive
mkdir -p "$D/spool/outbox/pfr"
DB=bench_archive
"$PGBIN/createdb" "$DB"
export PGDATABASE=$DB
sh "$TOP/tests/lib/pki.sh" "$D/pki"
cat >"$D/esia-batch.conf" <<CONF
[database]
conninfo =
[spool]
root = $D/spool
[signer]
key = $D/pki/esia-signer.key
cert = $D/pki/esia-signer.pem
[archive]
trust_anchor = $D/pki/esia-ca.pem
CONF
export ESIA_BATCH_CONFIG=$D/esia-batch.conf
"$ESIA_BATCH" -q migrate >/dev/null
B=$("$PGBIN/psql" -X -q -A -t -c "INSERT INTO batches (job, status, started_at, finished_at)
	VALUES ('export-checks', 'succeeded', now() - interval '3 days', now() - interval '2 days') RETURNING id")
# N packets of synthetic records (no personal data of anyone), rows by COPY
python3 - "$D/spool/outbox/pfr" "$N" "$B" >"$D/rows" <<'PY'
import hashlib, os, sys, uuid
d, n, b = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rec = ''.join('<Record CheckId="%d"><FamilyName>Тестов</FamilyName><FirstName>Тест</FirstName>'
              '<Snils>11223344595</Snils><Gender>M</Gender><BirthDate>1980-01-31</BirthDate></Record>\n' % i
              for i in range(40))
for i in range(n):
    pid = str(uuid.UUID(int=i + 1, version=4))
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<SnilsValidationRequest xmlns="http://kvs.pfr.com/'
            'snils-validation/1.0.1" PacketId="%s" RecordCount="40">\n%s</SnilsValidationRequest>\n' % (pid, rec)).encode()
    with open(os.path.join(d, pid + '.xml'), 'wb') as f:
        f.write(body)
    ids = '{' + ','.join(str(k) for k in range(40)) + '}'  # the file's CheckIds
    print('\t'.join([pid, 'request', 'pfr', b, pid + '.xml', hashlib.sha256(body).hexdigest(), '40', str(len(body)), 'written', ids]))
PY
"$PGBIN/psql" -X -q -c "\\copy packets (id, direction, agency, batch_id, file_name, sha256, records, bytes, status, check_ids) FROM '$D/rows'"
BYTES=$(du -sb "$D/spool/outbox" | cut -f1)

t0=$(date +%s.%N)
tar -cJf "$D/floor.tar.xz" -C "$D/spool" outbox
t1=$(date +%s.%N)
/usr/bin/time -f %M -o "$D/rss" "$ESIA_BATCH" -q archive >/dev/null
t2=$(date +%s.%N)
"$ESIA_BATCH" audit verify >/dev/null 2>&1 || true
t3=$(date +%s.%N)

python3 - "$N" "$BYTES" "$t0" "$t1" "$t2" "$t3" "$(cat "$D/rss")" <<'PY'
import sys
n, by = int(sys.argv[1]), int(sys.argv[2])
t0, t1, t2, t3 = map(float, sys.argv[3:7])
rss = int(sys.argv[7])
floor, arch, ver = t1 - t0, t2 - t1, t3 - t2
print("archive: %d files, %.1f MiB: %.2f s, %.0f files/s, peak RSS %.1f MiB" % (n, by / 2**20, arch, n / arch, rss / 1024))
print("floor (tar -cJ of the same files): %.2f s; ratio %.2f" % (floor, arch / floor))
print("audit verify (hashes, manifest signature; bench packets are unsigned so each packet check fails fast), %d files: %.2f s" % (n, ver))
PY
