#!/usr/bin/env bash
# Migrations: applied by the harness; again is a no-op; newer database refused;
# constraints hold; roles: the auditor reads and cannot write.
. "$(dirname "$0")/../lib/harness.sh"

v=$(sql "SELECT max(version) FROM schema_version")
isnt "$v" "" "schema_version recorded"
n_tables=$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
eb migrate
is "$RC" 0 "second migrate succeeds"
like "$OUT" "up to date" "second migrate is a no-op"
is "$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" "$n_tables" "no tables added"
is "$(sql "SELECT count(*) FROM schema_version")" "$(sql "SELECT count(DISTINCT version) FROM schema_version")" "each version once"

for t in accounts checks batches packets letters tracking_numbers activation_codes notifications archives audit_events; do
	is "$(sql "SELECT to_regclass('public.$t') IS NOT NULL")" t "table $t exists"
done

# constraints are real
sql "INSERT INTO accounts (family_name, first_name, phone) VALUES ('Иванов', 'Иван', '+79123456789')" >/dev/null
is "$?" 0 "a simplified account inserts"
sql "INSERT INTO accounts (family_name, first_name) VALUES ('Иванов', 'Иван')" >/dev/null 2>&1
isnt "$?" 0 "an account with neither phone nor e-mail is refused"
sql "INSERT INTO accounts (family_name, first_name, phone, snils) VALUES ('Иванов', 'Иван', '+79123456789', '123')" >/dev/null 2>&1
isnt "$?" 0 "a malformed SNILS is refused"
sql "INSERT INTO accounts (family_name, first_name, phone, level) VALUES ('Иванов', 'Иван', '+79123456789', 'standard')" >/dev/null 2>&1
isnt "$?" 0 "standard without SNILS and passport is refused"
sql "INSERT INTO audit_events (event) VALUES ('test')" >/dev/null
sql "UPDATE audit_events SET event = 'x'" >/dev/null 2>&1
isnt "$?" 0 "audit_events refuses UPDATE"
sql "DELETE FROM audit_events" >/dev/null 2>&1
isnt "$?" 0 "audit_events refuses DELETE"

# roles
sql "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aud_$$') THEN CREATE ROLE aud_$$ LOGIN IN ROLE esia_auditor; END IF; END \$\$" >/dev/null
PGUSER=aud_$$ "$PGBIN/psql" -X -A -t -c "SELECT count(*) FROM accounts" >"$T/o" 2>&1
is "$(cat "$T/o")" "1" "auditor can read"
PGUSER=aud_$$ "$PGBIN/psql" -X -A -t -c "UPDATE accounts SET level = 'confirmed'" >"$T/o" 2>&1
like "$(cat "$T/o")" "permission denied" "auditor cannot write"
PGUSER=aud_$$ "$EB" batches >"$T/o" 2>&1
is "$?" 0 "auditor can list batches"
sql "DROP ROLE IF EXISTS aud_$$" >/dev/null 2>&1 || true

# a migration missing below the newest applied one (branches landing in
# another order) is still applied
sql "DROP TRIGGER checks_enqueue_new ON checks; DELETE FROM schema_version WHERE version = 9" >/dev/null
eb migrate --status
like "$OUT" "migrate needed" "migrate --status sees the gap"
eb migrate
is "$RC" 0 "migrate fills the gap"
like "$OUT" "\(1 migration\)" "exactly the missing migration is applied"
is "$(sql "SELECT count(*) FROM pg_trigger WHERE tgname = 'checks_enqueue_new'")" 1 "its trigger exists again"
is "$(sql "SELECT count(*) FROM schema_version WHERE version = 9")" 1 "and it is recorded"

# filling a gap never undoes a later migration: 003's queue column and
# index were superseded by 009, 011's enqueue_notices() by 012's
sql "DELETE FROM schema_version WHERE version IN (3, 11)" >/dev/null
eb migrate
is "$RC" 0 "migrate re-applies 003 and 011"
like "$OUT" "\(2 migrations\)" "both"
is "$(sql "SELECT count(*) FROM pg_proc WHERE proname = 'enqueue_notices'")" 1 "still one enqueue_notices()"
is "$(sql "SELECT enqueue_notices('check_passed', ARRAY[]::bigint[], ARRAY[]::text[], ARRAY[]::jsonb[], NULL)")" 0 \
	"and a call with five arguments finds it"
is "$(sql "SELECT count(*) FROM pg_attribute WHERE attrelid = 'checks'::regclass AND attname = 'queued' AND NOT attisdropped")" 0 \
	"checks.queued is not back (009 replaced it with check_queue)"
is "$(sql "SELECT count(*) FROM pg_class WHERE relname = 'checks_queue_idx'")" 0 "nor its index"
# 002's index was dropped by 003; 003's fillfactor was lowered by 011 (not
# re-applied this time); 006 added the archive chain's column
sql "DELETE FROM schema_version WHERE version IN (2, 3, 6)" >/dev/null
eb migrate
is "$RC" 0 "migrate re-applies 002, 003 and 006"
is "$(sql "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'checks'")" \
	"fillfactor=45" "003's fillfactor is not back (011 lowered it)"
is "$(sql "SELECT count(*) FROM pg_class WHERE relname = 'checks_sent_at_idx'")" 0 "002's index is not back"
is "$(sql "SELECT count(*) FROM pg_attribute WHERE attrelid = 'archives'::regclass AND attname = 'seq' AND attnotnull")" \
	1 "006's column is kept as it was"
is "$(sql "SELECT count(*) FROM pg_constraint WHERE conrelid = 'archives'::regclass AND contype IN ('u', 'c')
	AND pg_get_constraintdef(oid) ~ 'seq'")" 2 "with its one unique key and one check"
is "$(sql "SELECT count(*) FROM schema_version")" "$(sql "SELECT count(DISTINCT version) FROM schema_version")" "each version once"

# the outbox has no foreign key to accounts (010): the one way in,
# enqueue_notices(), writes no notice for a citizen who does not exist
is "$(sql "SELECT enqueue_notice(987654321, 'check_passed', 'check_passed:987654321:1', '{}', NULL)")" 0 "no notice is written for no citizen"
is "$(sql "SELECT count(*) FROM notifications WHERE account_id = 987654321")" 0 "and none is there"

# 011: room on checks' pages for import's row versions; enqueue_notices()
# planned once per session, with the generic plan, and still once per key
is "$(sql "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'checks'")" \
	"fillfactor=45" "checks keep 55% of each page free"
is "$(sql "SELECT l.lanname || ' ' || array_to_string(p.proconfig, ',') FROM pg_proc p
	JOIN pg_language l ON l.oid = p.prolang WHERE p.proname = 'enqueue_notices'")" \
	"plpgsql plan_cache_mode=force_generic_plan" "enqueue_notices() keeps one generic plan"
acc=$(sql "INSERT INTO accounts (family_name, first_name, email, phone)
	VALUES ('Тест', 'Тест', 't@example.org', '+79990000000') RETURNING id" | head -1)
is "$(sql "SELECT enqueue_notices('check_passed', ARRAY[$acc, $acc]::bigint[],
	ARRAY['k:$acc', 'k:$acc'], ARRAY['{}', '{}']::jsonb[], NULL)")" 2 \
	"a key repeated in one call: one notice per channel"
is "$(sql "SELECT enqueue_notice($acc, 'check_passed', 'k:$acc', '{}', NULL)")" 0 "and a second call adds none"
is "$(sql "SELECT string_agg(channel, ',' ORDER BY channel) FROM notifications WHERE event_key = 'k:$acc'")" \
	"email,sms" "the citizen's two channels, once each"

# 012: a caller that has just made the change passes the addresses; its
# events are new, so a repeated one is an error, never a second notice
is "$(sql "SELECT count(*) FROM pg_proc WHERE proname = 'enqueue_notices'")" 1 "one enqueue_notices()"
is "$(sql "SELECT enqueue_notices('check_failed', ARRAY[$acc]::bigint[], ARRAY['f:$acc'],
	ARRAY['{}']::jsonb[], NULL, ARRAY['other@example.org'], ARRAY[NULL]::text[])")" 1 \
	"with addresses given: a notice per address given (here e-mail only)"
is "$(sql "SELECT account_id || ' ' || channel FROM notifications WHERE event_key = 'f:$acc'")" \
	"$acc email" "for that citizen, on that channel"
"$PGBIN/psql" -X -q -A -t -c "SELECT enqueue_notices('check_failed', ARRAY[$acc]::bigint[], ARRAY['f:$acc'],
	ARRAY['{}']::jsonb[], NULL, ARRAY['t@example.org'], ARRAY[NULL]::text[])" >/dev/null 2>"$T/dup.err"
is "$?" 1 "the same event again with addresses: refused"
like "$(cat "$T/dup.err")" "notifications_event_key_channel_key" "by the outbox's unique key"
is "$(sql "SELECT count(*) FROM notifications WHERE event_key = 'f:$acc'")" 1 "still one notice"
is "$(sql "SELECT enqueue_notice($acc, 'check_failed', 'f:$acc', '{}', NULL)")" 1 \
	"without addresses, as before: the citizen's other channel added, the repeat skipped"
is "$(sql "SELECT string_agg(channel, ',' ORDER BY channel) FROM notifications WHERE event_key = 'f:$acc'")" \
	"email,sms" "once per channel"

# 016: the identity and contact rules are domains, checked when a value is
# written (an UPDATE of level or data status no longer runs them)
is "$(sql "SELECT count(*) FROM pg_constraint WHERE conrelid = 'accounts'::regclass AND contype = 'c'
	AND pg_get_constraintdef(oid) ~ '~'")" 0 "no regular expression left among accounts' CHECKs"
is "$(sql "SELECT count(*) FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
	WHERE a.attrelid = 'accounts'::regclass AND t.typtype = 'd' AND t.typname LIKE 'acct\_%'")" 13 \
	"thirteen columns have a domain"
bad_value() { # column value: refused on insert and on update of the column
	local cols="family_name first_name phone" vals="'Иванов' 'Иван' '+79123456780'" c v ic= iv=
	for c in $cols; do
		v=${vals%% *}; vals=${vals#* }
		[ "$c" = "$1" ] && v=$2
		ic="$ic, $c"; iv="$iv, $v"
	done
	case " $cols " in *" $1 "*) ;; *) ic="$ic, $1"; iv="$iv, $2" ;; esac
	sql "INSERT INTO accounts (${ic#, }) VALUES (${iv#, })" >/dev/null 2>"$T/dom.err"
	isnt "$?" 0 "$1 = $2: an insert is refused"
	like "$(cat "$T/dom.err")" "acct_" "by the column's domain"
	sql "UPDATE accounts SET $1 = $2 WHERE id = $acc" >/dev/null 2>&1
	isnt "$?" 0 "$1 = $2: an update is refused"
}
bad_value snils "'1234567890x'"
bad_value passport_series "'12a4'"
bad_value passport_number "'12345'"
bad_value passport_issuer_code "'770 001'"
bad_value email "'no-at-sign'"
bad_value phone "'+7912345678'"
bad_value postal_index "'012345'"
bad_value family_name "''"
bad_value first_name "repeat('я', 101)"
bad_value patronymic "repeat('я', 101)"
bad_value gender "'X'"
bad_value birth_date "'1899-12-31'"
bad_value confirm_method "'pigeon'"
sql "UPDATE accounts SET snils = '12345678901', passport_series = '4510', passport_number = '123456',
	passport_issuer_code = '770-001', postal_index = '101000', gender = 'F', birth_date = '1990-01-02',
	confirm_method = 'mail', patronymic = 'Петровна' WHERE id = $acc" >/dev/null
is "$?" 0 "good values are taken"
fn=$(sql "SELECT pg_relation_filenode('accounts')")
sql "DELETE FROM schema_version WHERE version = 16" >/dev/null
eb migrate
is "$RC" 0 "migrate re-applies 016"
is "$(sql "SELECT pg_relation_filenode('accounts')")" "$fn" "without rewriting accounts"
is "$(sql "SELECT count(*) FROM pg_constraint WHERE contypid = 'acct_snils'::regtype")" 1 "a domain keeps one rule"
sql "UPDATE accounts SET snils = '1' WHERE id = $acc" >/dev/null 2>&1
isnt "$?" 0 "and it still holds"

# a database newer than the binary is refused
sql "INSERT INTO schema_version (version, name) VALUES (9999, '9999_future')" >/dev/null
eb migrate
is "$RC" 1 "migrate refuses a newer database"
like "$ERR" "newer than this binary" "and says why"
done_testing
