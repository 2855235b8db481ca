#!/usr/bin/env bash
# The database restarts while notify has sent mails of a chunk it has not yet
# recorded: the run exits 75 (its claim died with the connection, nothing is
# recorded as sent); the next run sends every notice, and the ones the server
# already got arrive again under the same Message-ID (at least once, never
# under two ids). This test restarts its own PostgreSQL.
unset ESIA_TEST_PGHOST
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/notify.sh"

start_smtp smtp
CONFIG_EXTRA="[smtp]
url = smtp://127.0.0.1:$SMTP_PORT
tls = none
from = no-reply@gosuslugi.example
[notify]
chunk = 3"
write_config
sql "WITH a AS (INSERT INTO accounts (family_name, first_name, email)
       SELECT 'Тестов', 'Тест', 'r' || g || '@mail.example' FROM generate_series(1, 6) g RETURNING id)
     SELECT sum(enqueue_notice(id, 'account_confirmed', 'restart:' || id, '{}', NULL)) FROM a" >/dev/null

ESIA_FAULT=notify.after_send:sleep=2 "$EB" notify >"$T/n.out" 2>"$T/n.err" &
pid=$!
wait_fault "$T/n.err" notify.after_send
ok $? "notify has sent the first mail of its first chunk"
restart_pg
ok $? "the database restarts"
wait $pid
is "$?" 75 "notify exits 75: the database went away"
is "$(sql "SELECT count(*) FROM notifications WHERE status = 'sent'")" 0 "nothing is recorded as sent"
is "$(sql "SELECT count(*) FROM notifications WHERE status = 'pending' AND attempts = 0")" 6 \
	"every notice is still pending, untouched"
got1=$(mails "$SMTP_DIR" | grep -c .)
is "$got1" 3 "the server got the chunk's three mails"

eb notify
is "$RC" 0 "the next run exits 0"
is "$(sql "SELECT count(*) FROM notifications WHERE status = 'sent'")" 6 "every notice is sent"
M=$(mails "$SMTP_DIR")
is "$(printf '%s\n' "$M" | grep -c .)" 9 "nine mails: six notices, three of them twice"
want=$(sql "SELECT '<esia-notice-' || id || '@gosuslugi.example>' FROM notifications ORDER BY 1")
ids=$(printf '%s\n' "$M" | $PY -c 'import json,sys; print("\n".join(sorted({json.loads(l)["message_id"] for l in sys.stdin})))')
is "$ids" "$want" "every notice arrived, each under its own Message-ID only"
is "$(sql "SELECT status FROM batches WHERE job = 'notify' ORDER BY id LIMIT 1")" abandoned \
	"the run that lost its database is marked abandoned"
done_testing
