# OpenSSH's sshd on 127.0.0.1 for the SFTP tests; source after harness.sh.
#   start_sshd DIR   host key, client key (DIR/client_key), authorized_keys and
#                    a config in DIR; sshd runs in the foreground of a
#                    background job; sets SSHD_PORT, SSHD_PID, SSH_USER, and
#                    DIR/known_hosts holding the host key for [127.0.0.1]:PORT
#   stop_sshd
# Public-key logins of the current user only; SFTP by OpenSSH's sftp-server,
# which logs each file operation to DIR/sftp.log.
SSHD=/usr/sbin/sshd
SSHD_PID=""

start_sshd() {
	_d=$1
	mkdir -p "$_d"
	rm -f "$_d/host_key" "$_d/client_key" "$_d"/*.pub
	ssh-keygen -q -t ed25519 -N "" -f "$_d/host_key" || bail "ssh-keygen host"
	ssh-keygen -q -t ed25519 -N "" -f "$_d/client_key" || bail "ssh-keygen client"
	cp "$_d/client_key.pub" "$_d/authorized_keys"
	chmod 0600 "$_d/authorized_keys" "$_d/client_key"
	# as root sshd wants its privilege-separation folder
	[ "$(id -u)" = 0 ] && mkdir -p /run/sshd
	SSH_USER=$(id -un)
	# OpenSSH's sftp-server, its log of every open and rename in DIR/sftp.log
	printf '#!/bin/sh\nexec /usr/lib/openssh/sftp-server -e -l INFO 2>>"%s/sftp.log"\n' "$_d" >"$_d/sftp"
	chmod 0755 "$_d/sftp"
	for _try in 1 2 3; do
		SSHD_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		cat >"$_d/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $_d/host_key
AuthorizedKeysFile $_d/authorized_keys
PidFile $_d/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp $_d/sftp
CONF
		$SSHD -D -f "$_d/sshd_config" -E "$_d/sshd.log" &
		SSHD_PID=$!
		for _ in $(seq 50); do
			grep -q "Server listening" "$_d/sshd.log" 2>/dev/null && break
			kill -0 "$SSHD_PID" 2>/dev/null || break
			sleep 0.1
		done
		grep -q "Server listening" "$_d/sshd.log" 2>/dev/null && break
		kill "$SSHD_PID" 2>/dev/null
		wait "$SSHD_PID" 2>/dev/null
		SSHD_PID=""
	done
	[ -n "$SSHD_PID" ] || bail "sshd did not start: $(tail -3 "$_d/sshd.log")"
	echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$_d/host_key.pub")" >"$_d/known_hosts"
}

stop_sshd() {
	[ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null
	SSHD_PID=""
}
