#!/usr/bin/env bash
# import-responses with [AGENCY] download_url: a real HTTPS mailbox on
# 127.0.0.1 (python3 http.server + ssl, client certificate required) offers
# the simulator's signed answers; they are fetched into the inbox, imported
# with every usual check, and deleted on the server. A second run fetches
# nothing; already-present names are not fetched again; oversize files and
# bad names are refused; server down -> the inbox is still imported, exit 75;
# a server the ca_bundle does not vouch for is refused; while another import
# holds the lock, nothing is downloaded.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/sim/testlib.sh"
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
PKI=$T/pki
BOX=$T/box
LOG=$T/box.log
mkdir -p "$BOX/pfr" "$BOX/fms"

# server certificate for 127.0.0.1 from the project CA; client = esia-signer
openssl req -newkey rsa:2048 -nodes -keyout "$T/srv.key" -out "$T/srv.csr" -subj "/CN=127.0.0.1/O=PFR" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$T/srv.ext"
openssl x509 -req -in "$T/srv.csr" -CA "$PKI/esia-ca.pem" -CAkey "$PKI/esia-ca.key" -CAcreateserial \
	-days 30 -extfile "$T/srv.ext" -out "$T/srv.pem" 2>/dev/null || bail "server cert"
cp "$PKI/esia-signer.key" "$T/client.key" && chmod 600 "$T/client.key"

SRV=""
start_server() { # PORT
	rm -f "$T/port"
	$PY "$TOP/tests/servers/https-box.py" --cert "$T/srv.pem" --key "$T/srv.key" \
		--client-ca "$PKI/esia-ca.pem" --root "$BOX" --log "$LOG" --port-file "$T/port" \
		--port "$1" 2>"$T/srv.err" &
	SRV=$!
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	[ -s "$T/port" ] || bail "the test server did not start: $(cat "$T/srv.err")"
}
stop_server() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null; SRV=""; }
trap 'stop_server; _harness_cleanup' EXIT

start_server 0
PORT=$(cat "$T/port")
CONFIG_EXTRA="$CONFIG_EXTRA
[pfr]
download_url = https://127.0.0.1:$PORT/pfr/
client_cert = $PKI/esia-signer.pem
client_key = $T/client.key
ca_bundle = $PKI/esia-ca.pem
max_response_bytes = 100000
[fms]
download_url = https://127.0.0.1:$PORT/fms/
client_cert = $PKI/esia-signer.pem
client_key = $T/client.key
ca_bundle = $PKI/esia-ca.pem"
write_config

load 20 7
requests pfr 10 >/dev/null
requests fms 10 >/dev/null
# PFR answers go to the server; FMS answers are held back for later
sh "$SIM/agency.sh" pfr "$SP/outbox/pfr" "$BOX/pfr" "$T/reg/pfr-registry.csv" "$PKI" >/dev/null || bail "simulator"
sh "$SIM/agency.sh" fms "$SP/outbox/fms" "$T/held" "$T/reg/fms-registry.csv" "$PKI" >/dev/null || bail "simulator"
npfr=$(ls "$BOX/pfr" | wc -l)
is "$npfr/$(ls "$T/held" | wc -l)" "2/2" "the simulator answered both requests of each agency"
cp -a "$BOX/pfr" "$T/sent-pfr"

# another import holds the lock: nothing is downloaded, listed or moved
PGAPPNAME=holder "$PGBIN/psql" -X -q -c "SELECT pg_advisory_lock(1, hashtext('esia-batch:import-responses'))" \
	-c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 100); do
	[ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'holder' AND l.locktype = 'advisory' AND l.granted")" = 1 ] && break
	sleep 0.05
done
: >"$LOG"
eb import-responses
is "$RC" 75 "while another import holds the lock: exit 75"
like "$ERR" "another import-responses run holds the lock" "and says why"
is "$(wc -l <"$LOG")/$(ls "$BOX/pfr" | wc -l)/$(inbox_count 2>/dev/null)" "0/$npfr/0" "nothing was asked of the server, nothing fetched"
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'holder'" >/dev/null
wait $holder 2>/dev/null

eb import-responses
is "$RC" 0 "download and import exit 0"
like "$OUT" "downloaded 2 packets from PFR" "it reports the download"
like "$OUT" "imported 2 packets \(20 results" "and imports the downloaded packets"
is "$(ls "$BOX/pfr" | wc -l)" 0 "the server no longer offers them (DELETE)"
same=0
for f in "$T/sent-pfr"/*; do cmp -s "$f" "$SP/processed/pfr/$(basename "$f")" && same=$((same + 1)); done
is "$same" 2 "the packets reach processed/ byte for byte"
is "$(stat -c %a "$SP/processed/pfr/$(ls "$SP/processed/pfr" | head -1)")" 600 "written 0600"
is "$(grep -c ' esia-signer$' "$LOG")" "$(wc -l <"$LOG")" "every request authenticated with the client certificate"
is "$(grep -c '^DELETE /pfr/' "$LOG")" 2 "one DELETE per packet"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state = 'sent'")" 0 "every PFR check answered"
is "$(sql "SELECT count(*) FROM packets WHERE direction = 'response' AND status = 'applied'")" 2 "response packets recorded"

: >"$LOG"
eb import-responses
is "$RC/$OUT" "0/nothing to import" "a second run downloads nothing"
is "$(grep -vc '^GET /\(pfr\|fms\)/ ' "$LOG")" 0 "it only asks for the listings"

# a name already imported: fetched only to compare, the same bytes are
# dropped and deleted on the server
first=$(ls "$T/sent-pfr" | head -1)
cp "$T/sent-pfr/$first" "$BOX/pfr/"
: >"$LOG"
eb import-responses
is "$RC/$OUT" "0/nothing to import" "a packet already in processed/ is not imported again"
is "$(grep -c '^GET /pfr/[^ ]' "$LOG")/$(grep -c '^DELETE /pfr/' "$LOG")/$(ls "$BOX/pfr" | wc -l)" 1/1/0 "fetched once to compare, then deleted on the server"
is "$(ls "$SP/inbox/pfr" | wc -l)" 0 "nothing left in the inbox"

# a different file under that name is never dropped: it is imported (here
# refused: its PacketId is taken) and kept beside the first one
{ cat "$T/sent-pfr/$first"; printf '<!-- another -->\n'; } >"$BOX/pfr/$first"
: >"$LOG"
eb import-responses
is "$RC" 65 "a different packet under a reused name: imported, refused"
cmp -s "$T/sent-pfr/$first" "$SP/processed/pfr/$first"
ok $? "the first one stays in processed/ as it was"
[ -f "$SP/rejected/pfr/$first" ] && grep -q "another" "$SP/rejected/pfr/$first"
ok $? "the second one is kept in rejected/"
like "$(head -1 "$SP/rejected/pfr/$first.reason")" "already used by a different packet" "with the reason"
is "$(grep -c '^DELETE /pfr/' "$LOG")/$(ls "$BOX/pfr" | wc -l)" 1/0 "and deleted on the server once it is kept"

# hostile offers: an oversize file (with and without Content-Length), bad names
head -c 150000 /dev/zero | tr '\0' x >"$BOX/pfr/big.xml"
cp "$BOX/pfr/big.xml" "$BOX/pfr/big.stream"
printf '../x\n.hidden\nsub/dir.xml\n%s\n' "$(head -c 129 /dev/zero | tr '\0' a)" >"$BOX/pfr.extra"
: >"$LOG"
eb import-responses
is "$RC" 65 "refused offers: exit 65"
like "$ERR" "big.xml refused: larger than 100000 bytes" "an oversize file is refused"
like "$ERR" "big.stream refused: larger than 100000 bytes" "also when the server does not announce the size"
is "$(inbox_count)" 0 "nothing is written into the inbox"
is "$(find "$SP/inbox" -name '.*' | wc -l)" 0 "no temporary left behind"
is "$(ls "$BOX/pfr" | wc -l)" 2 "the oversize files stay on the server"
is "$(grep -c 'event=download.bad_name' <<<"$ERR")" 4 "four bad names skipped with a warning"
is "$(grep -c -e '\.\./x' -e hidden -e 'sub/dir' -e aaaaaaaaaa "$LOG")" 0 "and never requested"
rm -f "$BOX/pfr"/big.* "$BOX/pfr.extra"

# a downloaded file is untrusted: a tampered packet is quarantined like any other
sed 's/\(<[A-Za-z:]*Status>\)[a-z_]*/\1not_found/' \
	"$T/sent-pfr/$(ls "$T/sent-pfr" | head -1)" >"$BOX/pfr/tampered.xml"
cmp -s "$BOX/pfr/tampered.xml" "$T/sent-pfr/$(ls "$T/sent-pfr" | head -1)" && bail "the tampering changed nothing"
dump "$T/before"
eb import-responses
is "$RC" 65 "a tampered packet from the server: exit 65"
like "$(head -1 "$SP/rejected/pfr/tampered.xml.reason" 2>/dev/null)" "^signature refused" "it is quarantined for its signature"
dump "$T/after"
is "$(cmp "$T/before" "$T/after" && echo same)" same "and changes nothing in the database"
is "$(ls "$BOX/pfr" | wc -l)" 0 "it is deleted on the server once downloaded"

# server down: the inbox is still imported, exit 75
stop_server
mkdir -p "$SP/inbox/fms"
cp "$T/held"/* "$SP/inbox/fms/"
eb import-responses
is "$RC" 75 "download server down: exit 75"
like "$ERR" "cannot list https://127.0.0.1:$PORT/pfr/" "the error names the URL"
like "$OUT" "imported 2 packets \(20 results" "the packets in the inbox are imported anyway"
is "$(inbox_count)" 0 "the inbox is empty"
awk -F, '$2 == "ok" || $2 == "bad_address" || $2 == "mixed_name" { print $1 }' "$T/reg/fates.csv" >"$T/want-standard"
sql "SELECT id FROM accounts WHERE level = 'standard' ORDER BY id" >"$T/got-standard"
is "$(diff "$T/want-standard" "$T/got-standard" && echo same)" same "promoted exactly the citizens both agencies confirmed"
[ -s "$T/want-standard" ]
ok $? "(some citizens were promoted)"

# a server the ca_bundle does not vouch for: refused, nothing fetched
start_server "$PORT"
cp "$T/sent-pfr/$(ls "$T/sent-pfr" | head -1)" "$BOX/pfr/new.xml"
sed -i "s|^ca_bundle = .*|ca_bundle = $PKI/foreign-ca.pem|" "$ESIA_BATCH_CONFIG"
: >"$LOG"
eb import-responses --agency pfr
is "$RC" 1 "an untrusted server: exit 1"
like "$ERR" "certificate" "because of its certificate"
is "$(inbox_count)/$(ls "$BOX/pfr" | wc -l)" 0/1 "nothing fetched, nothing deleted"
is "$(grep -c '^GET /pfr/new.xml' "$LOG")" 0 "the file was never requested"

# a named FILE: no download
sed -i "s|^ca_bundle = .*|ca_bundle = $PKI/esia-ca.pem|" "$ESIA_BATCH_CONFIG"
: >"$LOG"
eb import-responses "$SP/processed/pfr/$(ls "$T/sent-pfr" | head -1)"
is "$(wc -l <"$LOG")" 0 "import of named files does not download"
stop_server
done_testing
