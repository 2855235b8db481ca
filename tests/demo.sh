#!/bin/sh
# make demo: the whole pipeline on a throw-away PostgreSQL under var/.
#   tests/demo.sh        (re)create var/ and run everything; leaves the database running
#   tests/demo.sh stop   stop the demo's database and servers
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
VAR=${DEMO_VAR:-$TOP/var}
EB=${ESIA_BATCH:-$TOP/esia-batch}
CONF=$VAR/esia-batch.conf
N=${DEMO_N:-500}
. "$TOP/tests/lib/pg.sh"
PGBIN=$(pg_bindir)

stop_all() {
	for pidf in "$VAR"/*.pid; do
		[ -f "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null || true
		rm -f "$pidf"
	done
	pg_stop "$VAR/pg"
}

if [ "${1:-}" = stop ]; then
	stop_all
	echo "demo stopped"
	exit 0
fi

step() { printf '\n== %s\n' "$*"; }
eb() { "$EB" --config "$CONF" "$@"; }

step "fresh var/ (a previous demo is stopped and removed)"
[ -d "$VAR" ] && stop_all
rm -rf "$VAR"
mkdir -p "$VAR"
chmod 0755 "$VAR"

step "test PKI (project, PFR, FMS signers) in var/pki"
sh "$TOP/tests/lib/pki.sh" "$VAR/pki"

step "PostgreSQL in var/pg (Unix socket only)"
pg_start "$VAR/pg"
"$PGBIN/createdb" esia
export PGDATABASE=esia

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$VAR/hmac.key"
printf 'demo-gateway-token\n' >"$VAR/sms.token"
chmod 0600 "$VAR/hmac.key" "$VAR/sms.token"

step "local SMTP server (Maildir var/mail) and SMS gateway (JSON lines var/sms)"
start_server() { # NAME SCRIPT DIR
	mkdir -p "$3"
	/usr/bin/python3 "$TOP/tests/servers/$2" "$3" >"$VAR/$1.log" 2>&1 &
	echo $! >"$VAR/$1.pid"
	for _ in $(seq 100); do [ -s "$3/port" ] && break; sleep 0.1; done
	[ -s "$3/port" ] || { cat "$VAR/$1.log" >&2; exit 1; }
	echo "$1 listening on 127.0.0.1:$(cat "$3/port")"
}
start_server smtp smtp.py "$VAR/mail"
start_server sms sms.py "$VAR/sms"

cat >"$CONF" <<EOF
# The demo's configuration: try any command by hand with
#   ./esia-batch --config var/esia-batch.conf status
[database]
conninfo = host=$VAR/pg/sock dbname=esia user=esia

[spool]
root = spool

[paths]
formats = $TOP/formats

[metrics]
file = metrics/esia-batch.prom

[signer]
key = pki/esia-signer.key
cert = pki/esia-signer.pem

[pfr]
trust_anchor = pki/pfr-ca.pem

[fms]
trust_anchor = pki/fms-ca.pem

[letters]
hmac_key = hmac.key
tracking_ranges = 10100025:1-99999
sender_address = ул. Тверская, д. 7, Москва
sender_index = 125375

[smtp]
url = smtp://127.0.0.1:$(cat "$VAR/mail/port")
tls = none
from = no-reply@gosuslugi.example

[sms]
url = http://127.0.0.1:$(cat "$VAR/sms/port")/send
token = sms.token

[archive]
trust_anchor = pki/esia-ca.pem
older_than = 0
EOF

# A job's exit code: 0 done, 65 some input rejected (expected with the demo's
# mix of citizens); anything else stops the demo.
run() {
	set +e
	eb "$@"
	rc=$?
	set -e
	case $rc in 0|65) ;; *) echo "demo: esia-batch $* exited $rc" >&2; exit 1 ;; esac
}

step "migrate"
eb migrate

step "$N synthetic citizens with pending PFR and FMS checks"
PSQL="$PGBIN/psql" sh "$TOP/fixtures/load.sh" "$N" 1 "$VAR/registries"

step "export-checks: signed request packets for PFR and FMS"
run export-checks
ls "$VAR/spool/outbox/pfr" "$VAR/spool/outbox/fms" | sed 's/^/  /'

step "agency simulator (xsltproc + xmlsec1) answers from its registries"
for ag in pfr fms; do
	sh "$TOP/tests/sim/agency.sh" $ag "$VAR/spool/outbox/$ag" "$VAR/spool/inbox/$ag" \
		"$VAR/registries/$ag-registry.csv" "$VAR/pki" >/dev/null
done
ls "$VAR/spool/inbox/pfr" "$VAR/spool/inbox/fms" | sed 's/^/  /'

step "import-responses: verify, apply, promote to standard"
run import-responses

step "print-letters: activation codes, PDF, Russian Post registry"
run print-letters
PRINT=$(ls -d "$VAR/spool/print"/* | tail -1)
ls -l "$PRINT" | sed 's/^/  /'

step "notify: e-mail and SMS"
run notify

step "redeem: three citizens type the code from their letter (read back with pdftotext)"
b=$(basename "$PRINT")
"$PGBIN/psql" -X -A -t -F ' ' -c "SELECT page, account_id FROM letters WHERE batch_id = $b ORDER BY page LIMIT 3" |
while read -r page acct; do
	code=$(pdftotext -layout -f "$page" -l "$page" "$PRINT/letters.pdf" - |
		grep -Eo '^ *[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4} *$' | head -1 | tr -s ' ')
	printf '  account %s, page %s: ' "$acct" "$page"
	eb redeem "$acct" "$code"
done

step "notify again: the 'account confirmed' notices"
run notify

step "archive: signed, hash-chained archives of the finished batches (the print batch waits while its codes are live)"
run archive --older-than 0
find "$VAR/spool/archive" -type f | sort | sed 's/^/  /'

step "audit verify (offline, from the archive folder alone)"
eb audit verify

step "what happened to every group of citizens"
"$PGBIN/psql" -X -q -c "CREATE TEMP TABLE fates (id bigint, fate text)" \
	-c "\\copy fates FROM '$VAR/registries/fates.csv' WITH (FORMAT csv)" \
	-c "SELECT f.fate AS built_as, a.level, a.data_status, count(*) AS citizens,
	           min(coalesce(a.data_reject_reason, a.address_problem, '')) AS example_reason
	      FROM fates f JOIN accounts a USING (id)
	     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
echo "e-mails received: $(find "$VAR/mail/Maildir" -type f | wc -l) (var/mail/Maildir)"
echo "SMS received:     $(cat "$VAR/sms/sms.jsonl" 2>/dev/null | wc -l) (var/sms/sms.jsonl)"

step "status"
eb status

cat <<EOF

Print files:  $PRINT (letters.pdf, registry.json, f103.csv, manifest.json)
Archives:     $VAR/spool/archive
Mail, SMS:    $VAR/mail/Maildir, $VAR/sms/sms.jsonl
The demo database is running. Inspect it with:
  $PGBIN/psql -h $VAR/pg/sock -U esia esia
Try commands with:   ./esia-batch --config var/esia-batch.conf status
Stop everything:     make demo-stop
EOF
