#!/bin/sh
# make bench: notify sending N e-mails (BENCH_N, default 10,000) to a local
# aiosmtpd (storing nothing) over one reused connection, no rate limit.
# Prints e-mails/s, wall time and peak RSS of esia-batch, and two floors
# measured in the same run: the server alone (Python smtplib pushing the same
# number of ready-made messages over one connection) and the database work
# alone (claim + mark of the same rows, no rendering or sending).
set -u
N=${BENCH_N:-10000}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${ESIA_BENCH_DIR:?run through make bench}/notify
EB=${ESIA_BATCH:-$TOP/esia-batch}
PY=/usr/bin/python3
mkdir -p "$B/smtp" "$B/floor"
DB=bench_notify_$$
"$PGBIN/createdb" "$DB" || exit 1
export PGDATABASE=$DB
psql() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

SRV=""
cleanup() { [ -n "$SRV" ] && kill $SRV 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT INT TERM

start() { # DIR: sets PORT (not in a subshell: the server must not hold a pipe)
	$PY "$TOP/tests/servers/smtp.py" "$1" --discard >/dev/null 2>"$1/log" &
	SRV="$SRV $!"
	for _ in $(seq 100); do [ -s "$1/port" ] && break; sleep 0.1; done
	PORT=$(cat "$1/port")
}

start "$B/smtp"
port=$PORT
cat >"$B/conf" <<CONF
[database]
conninfo =
[spool]
root = $B/spool
[paths]
formats = $TOP/formats
[smtp]
url = smtp://127.0.0.1:$port
tls = none
rate_limit = 0
CONF
export ESIA_BATCH_CONFIG="$B/conf"
"$EB" -q migrate >/dev/null || exit 1

psql -c "INSERT INTO accounts (family_name, first_name, patronymic, email)
	SELECT 'Иванов', 'Иван', 'Иванович', 'citizen' || g || '@mail.example'
	FROM generate_series(1, $N) g;
	SELECT count(enqueue_notice(id, 'letter_sent', 'ls:' || id,
	       '{\"tracking\": \"80093053624992\"}', NULL)) FROM accounts;" >/dev/null || exit 1

s0=$(date +%s.%N)
/usr/bin/time -f "%M %U %S" -o "$B/rss" "$EB" -q notify >"$B/out" 2>"$B/err"
rc=$?
s1=$(date +%s.%N)
sent=$(psql -c "SELECT count(*) FROM notifications WHERE status = 'sent'")
conns=$(cat "$B/smtp/connections")
read rss cu cs <"$B/rss"
awk -v n="$sent" -v a="$s0" -v b="$s1" -v rss="$rss" -v cu="$cu" -v cs="$cs" -v rc="$rc" -v c="$conns" 'BEGIN {
	printf "notify: %d e-mails in %.2f s = %.0f e-mails/s, peak RSS %.1f MiB, %d SMTP connection(s), exit %d\n",
	       n, b - a, n / (b - a), rss / 1024, c, rc
	printf "notify CPU: %.2f s user + %.2f s sys = %.0f e-mails per CPU second\n", cu, cs, n / (cu + cs + 0.001) }'

# floor 1: the SMTP server alone
start "$B/floor"
fport=$PORT
$PY - "$fport" "$N" <<'PYEOF'
import smtplib, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
msg = ("From: no-reply@gosuslugi.example\r\nTo: x@mail.example\r\nSubject: =?UTF-8?B?0JPQvtGB0YPRgdC70YPQs9C4?=\r\n"
       "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
       + ("0JfQtNGA0LDQstGB0YLQstGD0LnRgtC1LCDQmNCy0LDQvSDQmNCy0LDQvdC+0LLQuNGHIQ0KDQrQnNGL\r\n" * 12))
t = time.time()
s = smtplib.SMTP("127.0.0.1", port)
for i in range(n):
    s.sendmail("no-reply@gosuslugi.example", ["citizen%d@mail.example" % i], msg)
s.quit()
d = time.time() - t
print("floor (server alone, smtplib, one connection): %d messages in %.2f s = %.0f/s" % (n, d, n / d))
PYEOF

# floor 2: the database work alone (claim in chunks of 100 + mark sent)
psql -c "UPDATE notifications SET status = 'pending', sent_at = NULL, sent_batch_id = NULL" >/dev/null
s0=$(date +%s.%N)
psql -c "DO \$\$ DECLARE ids bigint[]; BEGIN LOOP
	SELECT array_agg(id) INTO ids FROM (SELECT id FROM notifications WHERE status = 'pending'
	  AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT 100 FOR UPDATE SKIP LOCKED) s;
	EXIT WHEN ids IS NULL;
	UPDATE notifications SET status = 'sent', sent_at = now() WHERE id = ANY (ids);
	END LOOP; END \$\$;" >/dev/null
s1=$(date +%s.%N)
awk -v n="$N" -v a="$s0" -v b="$s1" 'BEGIN { printf "floor (database alone, claim + mark in chunks of 100): %.2f s = %.0f rows/s\n", b - a, n / (b - a) }'
# the same run against a minimal C receiver (tests/tools/smtp-sink.c), so the
# figure measures notify rather than the Python server
SINK=$TOP/build/rel/tools/smtp-sink
if [ -x "$SINK" ]; then
	mkdir -p "$B/sink"
	"$SINK" "$B/sink" &
	SRV="$SRV $!"
	sinkpid=$!
	for _ in $(seq 100); do [ -s "$B/sink/port" ] && break; sleep 0.1; done
	sed -i "s|^url = .*|url = smtp://127.0.0.1:$(cat "$B/sink/port")|" "$B/conf"
	psql -c "UPDATE notifications SET status = 'pending', sent_at = NULL, sent_batch_id = NULL" >/dev/null
	s0=$(date +%s.%N)
	/usr/bin/time -f "%M %U %S" -o "$B/rss2" "$EB" -q notify >"$B/out2" 2>"$B/err2"
	rc2=$?
	s1=$(date +%s.%N)
	kill -TERM "$sinkpid"; wait "$sinkpid" 2>/dev/null
	got=$(cat "$B/sink/messages" 2>/dev/null || echo 0)
	read rss cu cs <"$B/rss2"
	awk -v n="$got" -v a="$s0" -v b="$s1" -v rss="$rss" -v cu="$cu" -v cs="$cs" -v rc="$rc2" 'BEGIN {
		printf "notify to a C sink: %d e-mails in %.2f s = %.0f e-mails/s, peak RSS %.1f MiB, %.2f s CPU, exit %d\n",
		       n, b - a, n / (b - a), rss / 1024, cu + cs, rc }'
fi
"$PGBIN/dropdb" "$DB" 2>/dev/null
exit $rc
