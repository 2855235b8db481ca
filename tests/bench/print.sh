#!/bin/sh
# print-letters bench: N letters (BENCH_N, default 100,000) in one batch:
# codes, HMACs, tracking numbers, the PDF, registry, F103, manifest and the
# database records. Floor: COPY of the same account rows out of PostgreSQL.
set -u
N=${BENCH_N:-100000}
B=${ESIA_BENCH_DIR:?run through make bench}
EB=${ESIA_BATCH:?}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
export PGDATABASE=bench_print
"$PGBIN/createdb" "$PGDATABASE" || exit 1
W=$B/print
mkdir -p "$W/spool"
head -c 32 /dev/urandom >"$W/hmac.key"
chmod 0600 "$W/hmac.key"
cat >"$W/esia-batch.conf" <<CONF
[database]
conninfo =
[spool]
root = $W/spool
[paths]
formats = $TOP/formats
[letters]
hmac_key = $W/hmac.key
tracking_ranges = 10100025:1-99999,10100125:1-99999
max_per_batch = $N
CONF
export ESIA_BATCH_CONFIG="$W/esia-batch.conf"
"$EB" migrate >/dev/null || exit 1
psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql -c "INSERT INTO accounts (level, family_name, first_name, patronymic, snils, passport_series,
	passport_number, email, postal_index, region, district, locality, street, house, flat, confirm_method)
	SELECT 'standard', 'Фамилия' || i, 'Имя', 'Отчество', '11223344595', '4509', lpad(i::text, 6, '0'),
	'u' || i || '@example.ru', '101000', 'г. Москва', NULL, 'Москва', 'ул. Номер ' || i,
	(i % 90 + 1)::text, (i % 300 + 1)::text, 'mail' FROM generate_series(1, $N) AS i; ANALYZE accounts" || exit 1

t0=$(date +%s.%N)
psql -c "\\copy (SELECT id, family_name, first_name, patronymic, postal_index, region, district,
	locality, street, house, flat FROM accounts WHERE level = 'standard' AND confirm_method = 'mail')
	TO '/dev/null'" || exit 1
t1=$(date +%s.%N)
/usr/bin/time -f '%e %M %U %S' -o "$W/time" "$EB" -q print-letters >/dev/null 2>"$W/err"
rc=$?
[ $rc = 0 ] || { echo "print-letters failed ($rc)"; tail -5 "$W/err"; exit 1; }
read -r secs rss usr sys <"$W/time"
got=$(psql -A -t -c "SELECT count(*) FROM letters")
pages=$(pdfinfo "$W"/spool/print/*/letters.pdf 2>/dev/null | awk '/^Pages:/ {print $2}')
size=$(du -m "$W"/spool/print/*/letters.pdf | cut -f1)
awk -v n="$N" -v got="$got" -v pages="${pages:-?}" -v s="$secs" -v rss="$rss" -v usr="$usr" -v sys="$sys" -v f0="$t0" -v f1="$t1" -v mb="$size" 'BEGIN {
	floor = f1 - f0
	printf "print-letters: N=%d letters=%d pages=%s pdf=%d MiB\n", n, got, pages, mb
	printf "  wall %.1f s, %.0f letters/s, peak RSS %.1f MiB, CPU user %.1f s sys %.1f s\n", s, n / s, rss / 1024, usr, sys
	printf "  floor (COPY the same rows out): %.2f s; ratio %.0fx\n", floor, s / floor
}'
[ "$got" = "$N" ]
