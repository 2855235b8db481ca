#!/bin/sh
# Stand-in for export-checks in the importer's tests and bench: turns the
# pending checks of AGENCY into request packets in OUTBOX (unsigned: the
# simulator does not check them) and records them as export-checks does:
# a batch, packets rows (direction request, real SHA-256 and size), checks
# marked sent with their packet. Works on the database of the PG* environment.
#   tests/sim/requests.sh pfr|fms OUTBOX [PER_PACKET]
# Prints the number of packets written.
set -eu
AG=${1:?usage: requests.sh pfr|fms OUTBOX [PER_PACKET]}
OUT=${2:?usage: requests.sh pfr|fms OUTBOX [PER_PACKET]}
PER=${3:-1000}
PSQL=${PSQL:-psql}
case $AG in pfr|fms) ;; *) echo "requests.sh: agency must be pfr or fms" >&2; exit 2 ;; esac
mkdir -p "$OUT"
if [ "$AG" = pfr ]; then
	REC="xmlelement(name \"Record\", xmlattributes(c.id AS \"CheckId\"),
		xmlelement(name \"FamilyName\", a.family_name), xmlelement(name \"FirstName\", a.first_name),
		CASE WHEN a.patronymic IS NOT NULL THEN xmlelement(name \"Patronymic\", a.patronymic) END,
		xmlelement(name \"Snils\", a.snils), xmlelement(name \"Gender\", a.gender),
		xmlelement(name \"BirthDate\", a.birth_date))"
	ROOT=SnilsValidationRequest NS=http://kvs.pfr.com/snils-validation/1.0.1 TO=PFR
else
	REC="xmlelement(name \"Record\", xmlattributes(c.id AS \"CheckId\"),
		xmlelement(name \"FamilyName\", a.family_name), xmlelement(name \"FirstName\", a.first_name),
		CASE WHEN a.patronymic IS NOT NULL THEN xmlelement(name \"Patronymic\", a.patronymic) END,
		xmlelement(name \"BirthDate\", a.birth_date), xmlelement(name \"Series\", a.passport_series),
		xmlelement(name \"Number\", a.passport_number), xmlelement(name \"IssueDate\", a.passport_issue_date),
		xmlelement(name \"IssuerCode\", a.passport_issuer_code))"
	ROOT=PassportValidityRequest NS=http://fms.gov.ru/passport-validity/1.0.0 TO=FMS
fi
"$PSQL" -X -q -A -t -F '	' -v ON_ERROR_STOP=1 <<SQL | awk -F'\t' -v out="$OUT" '
	NF == 2 { f = out "/" $1 ".xml"; printf "%s", $2 > f; close(f); n++ } END { print n + 0 }'
SET client_min_messages = warning;
BEGIN;
CREATE TEMP TABLE rq ON COMMIT DROP AS
  SELECT c.id, (row_number() OVER (ORDER BY c.id) - 1) / $PER AS n
    FROM checks c WHERE c.agency = '$AG' AND c.state = 'pending';
CREATE TEMP TABLE rp ON COMMIT DROP AS
  SELECT n, gen_random_uuid() AS id, count(*) AS records FROM rq GROUP BY n;
CREATE TEMP TABLE rx ON COMMIT DROP AS
  SELECT rp.id, rp.records, xmlelement(name "$ROOT",
           xmlattributes('$NS' AS xmlns, rp.id AS "PacketId",
                         to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "CreatedAt",
                         'ESIA' AS "Sender", '$TO' AS "Recipient", rp.records AS "RecordCount"),
           g.recs)::text AS x
    FROM rp JOIN (SELECT rq.n, xmlagg($REC ORDER BY c.id) AS recs
                    FROM rq JOIN checks c ON c.id = rq.id JOIN accounts a ON a.id = c.account_id
                   GROUP BY rq.n) g USING (n);
INSERT INTO batches (job, status, finished_at, records) VALUES ('export-checks', 'succeeded', now(), (SELECT count(*) FROM rq));
INSERT INTO packets (id, direction, agency, batch_id, file_name, sha256, records, bytes, status, check_ids)
  SELECT rx.id, 'request', '$AG', currval('batches_id_seq'), rx.id || '.xml',
         encode(sha256(convert_to(x, 'UTF8')), 'hex'), rx.records, octet_length(x), 'written',
         (SELECT array_agg(rq.id ORDER BY rq.id) FROM rq WHERE rq.n = rp.n)
    FROM rx JOIN rp ON rp.id = rx.id;
UPDATE checks c SET state = 'sent', packet_id = rp.id, sent_at = now(), attempts = c.attempts + 1
  FROM rq JOIN rp USING (n) WHERE c.id = rq.id;
SELECT id, x FROM rx;
COMMIT;
SQL
