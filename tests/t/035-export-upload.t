#!/usr/bin/env bash
# Upload: packets go by HTTPS PUT with a client certificate to a real server
# on 127.0.0.1 (python3 http.server + ssl, client certificate required).
# Server down -> exit 75, packets stay 'written' in the outbox, and after the
# first packet fails the rest are left for the next run (no minutes of
# retries); next run retries them first -> 'uploaded', bytes identical. Transient 503s are
# retried within a run; an untrusted server is refused.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/export.sh"
sh "$TOP/tests/lib/pki.sh" "$PKI" || bail "pki"
PY=/usr/bin/python3
[ -x $PY ] || PY=python3

# server certificate for 127.0.0.1 from the project CA; client = esia-signer
openssl req -newkey rsa:2048 -nodes -keyout "$T/srv.key" -out "$T/srv.csr" -subj "/CN=127.0.0.1/O=PFR" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$T/srv.ext"
openssl x509 -req -in "$T/srv.csr" -CA "$PKI/esia-ca.pem" -CAkey "$PKI/esia-ca.key" -CAcreateserial \
	-days 30 -extfile "$T/srv.ext" -out "$T/srv.pem" 2>/dev/null || bail "server cert"
cp "$PKI/esia-signer.key" "$T/client.key" && chmod 600 "$T/client.key"
mkdir -p "$T/recv"

SRV=""
start_server() { # PORT FAIL_FIRST
	rm -f "$T/port"
	$PY "$TOP/tests/servers/https-put.py" --cert "$T/srv.pem" --key "$T/srv.key" \
		--client-ca "$PKI/esia-ca.pem" --dir "$T/recv" --port-file "$T/port" --port "$1" \
		--fail-first "${2:-0}" 2>"$T/srv.err" &
	SRV=$!
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	[ -s "$T/port" ] || bail "the test server did not start: $(cat "$T/srv.err")"
}
stop_server() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null; SRV=""; }
trap 'stop_server; _harness_cleanup' EXIT

# a free port: let the server pick one, then stop it -- nothing listens there now
start_server 0
PORT=$(cat "$T/port")
stop_server

export_setup 30 "[pfr]
max_records = 10
upload_url = https://127.0.0.1:$PORT/in/
client_cert = $PKI/esia-signer.pem
client_key = $T/client.key
ca_bundle = $PKI/esia-ca.pem"

eb export-checks --agency pfr
is "$RC" 75 "server down: exit 75"
like "$ERR" "upload of [0-9a-f-]+\.xml failed" "the error names the packet"
like "$ERR" "event=upload.retry" "transient failures are retried"
is "$(sql "SELECT count(*) FROM packets WHERE status = 'written'")" "$(sql "SELECT count(*) FROM packets")" "every packet stays 'written'"
is "$(sql "SELECT status FROM batches ORDER BY id DESC LIMIT 1")" partial "the batch is partial"
is "$(sql "SELECT count(*) FROM checks WHERE agency = 'pfr' AND state = 'pending'")" 0 "the checks are still recorded as sent (the packets exist)"
npk=$(sql "SELECT count(*) FROM packets")
[ "$npk" -gt 1 ] || bail "the test needs more than one packet"
is "$(grep -c 'event=export.upload_failed' <<<"$ERR")/$(grep -c 'event=upload.retry' <<<"$ERR")" 1/2 \
	"only the first packet is tried (three times) once the server is found down"
like "$OUT" "0 uploaded, 1 upload failures \($((npk - 1)) more left for the next run\)" "the rest wait for the next run"

# a second run while it is still down: tries the oldest once, writes nothing new
eb export-checks --agency pfr
is "$RC" 75 "still down: exit 75"
is "$(grep -c 'event=export.upload_failed' <<<"$ERR")" 1 "one packet tried, not each twice"

start_server "$PORT" 2
eb export-checks --agency pfr
is "$RC" 0 "server up (answering 503 twice first): the next run succeeds"
like "$OUT" "0 packets.*$npk uploaded, 0 upload failures" "it uploads the waiting packets"
is "$(sql "SELECT count(*) FROM packets WHERE status = 'uploaded'")" "$npk" "all packets are 'uploaded'"
same=0
for f in "$OUTBOX"/pfr/*.xml; do cmp -s "$f" "$T/recv/$(basename "$f")" && same=$((same + 1)); done
is "$same" "$npk" "the server received every packet byte for byte"
is "$(grep -c ' esia-signer$' "$T/recv/clients.log")" "$npk" "authenticated with the client certificate"

# a new packet is uploaded in the same run it is written
sql "UPDATE accounts SET data_version = 2 WHERE id = 1" >/dev/null
sql "INSERT INTO checks (account_id, agency, data_version) VALUES (1, 'pfr', 2)" >/dev/null
eb export-checks --agency pfr
is "$RC" 0 "a run with a new packet"
like "$OUT" "1 packets, 1 checks sent.*1 uploaded" "writes and uploads it"
is "$(sql "SELECT count(*) FROM packets WHERE status = 'written'")" 0 "nothing left to upload"

# a server the ca_bundle does not vouch for is refused (no retry, no upload)
stop_server
sed -i "s|^ca_bundle = .*|ca_bundle = $PKI/foreign-ca.pem|" "$ESIA_BATCH_CONFIG"
start_server "$PORT"
sql "UPDATE accounts SET data_version = 3 WHERE id = 1" >/dev/null
sql "INSERT INTO checks (account_id, agency, data_version) VALUES (1, 'pfr', 3)" >/dev/null
eb export-checks --agency pfr
is "$RC" 75 "an untrusted server: the upload fails"
like "$ERR" "certificate" "because of its certificate"
unlike "$ERR" "upload.retry" "without pointless retries"
is "$(sql "SELECT count(*) FROM packets WHERE status = 'written'")" 1 "the packet waits in the outbox"
stop_server
done_testing
