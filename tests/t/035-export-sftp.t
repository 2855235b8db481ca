#!/usr/bin/env bash
# Upload by SFTP to a real OpenSSH sshd on 127.0.0.1 (public-key login):
# the packets arrive byte for byte under their names, never half-written
# under them (.NAME.part, then renamed); without ssh_known_hosts nothing is
# sent; a server whose host key is not the known one is refused and the
# packet waits in the outbox; a packet uploaded again (a crash before the
# upload was recorded) replaces the copy on the server; a client key readable
# by group or others is refused before connecting.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/export.sh"
. "$TOP/tests/lib/sshd.sh"
trap 'stop_sshd; _harness_cleanup' EXIT

start_sshd "$T/ssh"
mkdir -p "$T/remote"
sftp_config() { # KNOWN-HOSTS-LINE
	printf '%s\n' "[pfr]
max_records = 10
upload_url = sftp://$SSH_USER@127.0.0.1:$SSHD_PORT$T/remote/
client_key = $T/ssh/client_key
$1"
}
export_setup 30 "$(sftp_config "ssh_known_hosts = $T/ssh/known_hosts")"
known_hosts() { # FILE|"" -> the config with that ssh_known_hosts (none when "")
	CONFIG_EXTRA="[signer]
key = $PKI/esia-signer.key
cert = $PKI/esia-signer.pem
$(sftp_config "${1:+ssh_known_hosts = $1}")"
	write_config
}

eb export-checks --agency pfr
refused=$(sql "SELECT count(*) FROM checks WHERE state = 'failed'")
is "$RC" "$([ "$refused" -gt 0 ] && echo 65 || echo 0)" "export with SFTP upload: exit 0 (65: $refused checks refused locally)"
npk=$(sql "SELECT count(*) FROM packets")
like "$OUT" "$npk packets.*$npk uploaded, 0 upload failures" "every packet uploaded"
is "$(sql "SELECT count(*) FROM packets WHERE status = 'uploaded'")" "$npk" "recorded as uploaded"
same=0
for f in "$OUTBOX"/pfr/*.xml; do cmp -s "$f" "$T/remote/$(basename "$f")" && same=$((same + 1)); done
is "$same" "$npk" "the server holds every packet byte for byte"
is "$(ls -A "$T/remote" | grep -c '\.part$')" 0 "no .part file left on the server"
# what the server saw, from sftp-server's own log
is "$(grep -c 'open ".*/\.[^/]*\.xml\.part" flags WRITE,CREATE,TRUNCATE mode 0100600' "$T/ssh/sftp.log")/$(grep 'open ' "$T/ssh/sftp.log" | grep -vc '\.part"')" \
	"$npk/0" "each packet written only under its .part name, mode 0600 (personal data)"
is "$(grep -cE 'rename old ".*/\.([^/]*\.xml)\.part" new ".*/\1"' "$T/ssh/sftp.log")" "$npk" \
	"and renamed to its name once complete"
is "$(stat -c %a "$T/remote/$(ls "$T/remote" | head -1)")" 600 "the server's copy is 0600"
like "$(cat "$T/ssh/sshd.log")" "Accepted publickey for $SSH_USER" "logged in with the key"

next_check() { # VERSION: a new PFR check for account 1
	sql "UPDATE accounts SET data_version = $1 WHERE id = 1" >/dev/null
	sql "INSERT INTO checks (account_id, agency, data_version) VALUES (1, 'pfr', $1)" >/dev/null
}

# no known host key configured: nothing is sent
known_hosts ""
next_check 2
n0=$(ls "$T/remote" | wc -l)
eb export-checks --agency pfr
isnt "$RC" 0 "without ssh_known_hosts the upload fails"
like "$ERR" "ssh_known_hosts" "and says what is missing"
is "$(ls -A "$T/remote" | wc -l)" "$n0" "nothing reached the server"
is "$(sql "SELECT count(*) FROM packets WHERE status = 'written'")" 1 "the packet waits in the outbox"

# a host key that is not the server's: refused
ssh-keygen -q -t ed25519 -N "" -f "$T/other_key"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/other_key.pub")" >"$T/other_known_hosts"
known_hosts "$T/other_known_hosts"
eb export-checks --agency pfr
is "$RC" 75 "a server with another host key: the upload fails, exit 75"
like "$ERR" "SSH remote key was not OK" "because of its host key"
is "$(ls -A "$T/remote" | wc -l)" "$n0" "nothing reached it"
is "$(sql "SELECT count(*) FROM packets WHERE status = 'written'")" 1 "the packet still waits"

# the right key again: the waiting packet goes up
known_hosts "$T/ssh/known_hosts"
eb export-checks --agency pfr
is "$RC" 0 "the known host again: exit 0"
is "$(sql "SELECT count(*) FROM packets WHERE status = 'written'")" 0 "the waiting packet is uploaded"
is "$(ls "$T/remote" | wc -l)" "$((n0 + 1))" "and is on the server"

# uploaded, but the run died before recording it: the next upload replaces the copy
one=$(sql "SELECT file_name FROM packets WHERE status = 'uploaded' ORDER BY id LIMIT 1")
sql "UPDATE packets SET status = 'written' WHERE file_name = '$one'" >/dev/null
head -c 100 "$OUTBOX/pfr/$one" >"$T/remote/$one"
eb export-checks --agency pfr
is "$RC" 0 "a packet uploaded again: exit 0"
cmp -s "$OUTBOX/pfr/$one" "$T/remote/$one"
ok $? "the server's copy is replaced by the whole packet"
is "$(ls -A "$T/remote" | grep -c '\.part$')" 0 "no .part file left"

# a client key that group or others can read is refused like any secret,
# before connecting (libssh2 itself would use it)
chmod 0640 "$T/ssh/client_key"
next_check 3
n0=$(ls -A "$T/remote" | wc -l)
logins=$(grep -c "Accepted publickey" "$T/ssh/sshd.log")
eb export-checks --agency pfr
is "$RC" 75 "a group-readable SFTP client key: the upload fails, exit 75"
like "$ERR" "\[pfr\] client_key: secret \"$T/ssh/client_key\" is readable by group or others \(mode 0640\)" \
	"naming the key, its file and mode"
is "$(grep -c "Accepted publickey" "$T/ssh/sshd.log")" "$logins" "no login was made with it"
is "$(ls -A "$T/remote" | wc -l)" "$n0" "nothing reached the server"
is "$(sql "SELECT count(*) FROM packets WHERE status = 'written'")" 1 "the packet waits in the outbox"
chmod 0600 "$T/ssh/client_key"
eb export-checks --agency pfr
is "$RC" 0 "the key made private again: exit 0"
is "$(ls "$T/remote" | wc -l)" "$((n0 + 1))" "the waiting packet is on the server"
stop_sshd
done_testing
