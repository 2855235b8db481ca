#!/usr/bin/env bash
# What an upload or download server makes libcurl say reaches the log, stderr
# and the batch's error only through clean_text(): a server certificate the
# CA vouches for but issued to another name makes libcurl quote its subject
# name in the error, so a name holding a newline and an ESC sequence forged a
# log line (and a stderr line), and a long non-ASCII name, cut to fit the
# batch's error inside a character, made PostgreSQL refuse the statement that
# records the failed upload: the batch stayed 'running' until the next run
# called it abandoned.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/export.sh"
sh "$TOP/tests/lib/pki.sh" "$PKI" || bail "pki"
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
FORGED='ts=2026-01-01T00:00:00Z level=info event=forged'

# cert NAME CN: a server certificate from the project CA for CN and no
# subjectAltName, so libcurl checks (and quotes) the CN
cert() {
	openssl req -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.csr" -utf8 -subj "/CN=$2" 2>/dev/null &&
		printf 'extendedKeyUsage=serverAuth\n' >"$T/$1.ext" &&
		openssl x509 -req -in "$T/$1.csr" -CA "$PKI/esia-ca.pem" -CAkey "$PKI/esia-ca.key" -CAcreateserial \
			-days 30 -extfile "$T/$1.ext" -out "$T/$1.pem" 2>/dev/null || bail "server certificate $1"
}
cert forge "x"$'\n'"$FORGED"$'\x1b[2J'
cert long "$(printf '€%.0s' $(seq 64))"
cp "$PKI/esia-signer.key" "$T/client.key" && chmod 600 "$T/client.key"
mkdir -p "$T/recv" "$T/box/pfr"

SRV=""
start() { # SCRIPT CERT ARGS...: a test server on a free port; its port in $T/port
	rm -f "$T/port"
	$PY "$TOP/tests/servers/$1" --cert "$T/$2.pem" --key "$T/$2.key" --client-ca "$PKI/esia-ca.pem" \
		--port-file "$T/port" "${@:3}" 2>"$T/srv.err" &
	SRV=$!
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	[ -s "$T/port" ] || bail "the test server did not start: $(cat "$T/srv.err")"
}
stop() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null; SRV=""; }
trap 'stop; _harness_cleanup' EXIT
# one_line: stderr holds log events and messages only, none forged, no ESC
one_line() {
	is "$(grep -vcE '^(ts=|esia-batch: )' <"$T/err") $(grep -c "^$FORGED" <"$T/err") $(grep -c $'\x1b' <"$T/err")" \
		"0 0 0" "$1: every stderr line an event or a message, none forged, no ESC"
}
last_batch() { sql "SELECT status || '|' || coalesce(error, '') FROM batches WHERE job = '$1' ORDER BY id DESC LIMIT 1"; }

# upload: the PUT server with the forging certificate
start https-put.py forge --dir "$T/recv"
PORT=$(cat "$T/port")
export_setup 5 "[pfr]
upload_url = https://127.0.0.1:$PORT/in/
client_cert = $PKI/esia-signer.pem
client_key = $T/client.key
ca_bundle = $PKI/esia-ca.pem"
eb export-checks --agency pfr
is "$RC" 75 "upload refused by its certificate's name: exit 75"
one_line "upload"
like "$(grep 'event=export.upload_failed' <"$T/err")" \
	"error=\"SSL: certificate subject name 'x ts=2026-01-01T00:00:00Z level=info event=forged \[2J' does not match" \
	"the log line quotes libcurl's error, the name's control characters made spaces"
b=$(last_batch export-checks)
like "$b" "^partial\|upload of [0-9a-f-]+\.xml failed: SSL: certificate subject name 'x ts=.* \[2J' does not match" \
	"the batch's error says the same"
is "$(printf '%s' "$b" | tr -d '\000-\037\177' | wc -c)" "$(printf '%s' "$b" | wc -c)" "with no control character"

# the same packet again to a server whose name is 64 euro signs: the error
# is cut inside one to fit the batch's error
stop
start https-put.py long --dir "$T/recv" --port "$PORT"
eb export-checks --agency pfr
is "$RC" 75 "upload to the long name: exit 75"
like "$(last_batch export-checks)" "^partial\|upload of [0-9a-f-]+\.xml failed: SSL: certificate subject name '(€)+\?+$" \
	"the failure is recorded, the cut character '?'s"
is "$(sql "SELECT count(*) FROM batches WHERE status IN ('running', 'abandoned')")" 0 "no batch left running"
iconv -f UTF-8 -t UTF-8 <"$T/err" >/dev/null 2>&1
ok $? "stderr is valid UTF-8"
is "$(sql "SELECT count(*) FROM packets WHERE status = 'written'")" "$(sql "SELECT count(*) FROM packets")" \
	"nothing was uploaded"
stop

# download: the mailbox with the forging certificate; the listing fails
start https-box.py forge --root "$T/box" --log "$T/box.log"
PORT=$(cat "$T/port")
sed -i '/^upload_url/d' "$T/esia-batch.conf" && printf 'download_url = https://127.0.0.1:%s/pfr/\n' "$PORT" >>"$T/esia-batch.conf"
eb import-responses --agency pfr
is "$RC" 1 "download refused by its certificate's name: exit 1"
one_line "download"
like "$ERR" "esia-batch: error: \[pfr\] cannot list https://127.0.0.1:$PORT/pfr/: SSL: certificate subject name 'x ts=2026-01-01T00:00:00Z level=info event=forged \[2J' does not match" \
	"the error quotes libcurl's, the name's control characters made spaces"
stop
done_testing
