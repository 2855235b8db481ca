# Common setup for end-to-end tests (tests/t/*.t). Source it from a test:
#   . "$(dirname "$0")/../lib/harness.sh"
# It gives: TOP, T (a private temp folder), EB (the binary under test), a
# fresh migrated database of the test's own in a PostgreSQL cluster (the
# runner's, or one started here when run alone), and helpers:
#   eb ARGS...      run esia-batch with the test config; sets RC, OUT, ERR
#   sql "QUERY"     one psql query, unaligned tuples only
#   write_config    (re)write $T/esia-batch.conf from CONFIG_EXTRA
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/pg.sh"

# run alone (not under tests/run), still ignore the libraries' one-time leaks
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$TOP/tests/lsan.supp:print_suppressions=0}"
PGBIN=$(pg_bindir) || bail "no PostgreSQL"
EB=${ESIA_BATCH:-$TOP/esia-batch}
[ -x "$EB" ] || bail "no binary at $EB (run make)"
T=$(mktemp -d "${TMPDIR:-/tmp}/esia-t.XXXXXX")
chmod 0755 "$T"
_own_pg=""

_harness_cleanup() {
	[ -n "$_own_pg" ] && pg_stop "$_own_pg"
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
}
trap _harness_cleanup EXIT

if [ -n "${ESIA_TEST_PGHOST:-}" ]; then
	export PGHOST="$ESIA_TEST_PGHOST" PGUSER=esia PGPORT=5432
else
	_own_pg="$T/pg"
	pg_start "$_own_pg" || bail "cannot start PostgreSQL"
fi
_tname=$(basename "$0" .t | tr -c 'a-zA-Z0-9\n' '_')
pg_newdb "t_${_tname}_$$" >/dev/null || bail "cannot create the test database"

mkdir -p "$T/spool"
CONFIG_EXTRA=${CONFIG_EXTRA:-}
write_config() {
	{
		printf '[database]\nconninfo =\n\n[spool]\nroot = %s/spool\n\n[paths]\nformats = %s/formats\n' "$T" "$TOP"
		printf '%s\n' "$CONFIG_EXTRA"
	} >"$T/esia-batch.conf"
}
write_config
export ESIA_BATCH_CONFIG="$T/esia-batch.conf"

eb() {
	"$EB" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
	return 0
}

sql() {
	"$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"
}

"$EB" migrate >/dev/null 2>"$T/migrate.err" || { cat "$T/migrate.err"; bail "migrate failed"; }

# faulty POINT CMD...: run esia-batch with ESIA_FAULT=POINT (e.g.
# import.after_commit:kill@2); sets RC; output in $T/out, $T/err. The shell's
# "Killed" notice is silenced.
faulty() { { ESIA_FAULT=$1 "$EB" "${@:2}" >"$T/out" 2>"$T/err"; RC=$?; } 2>/dev/null; }

# For tests that restart the database (they unset ESIA_TEST_PGHOST before
# sourcing this file, so the cluster is their own):
#   restart_pg    pg_ctl restart -m fast of that cluster
#   wait_fault FILE POINT   wait until the stderr in FILE says the job sleeps
#                 at fault point POINT (ESIA_FAULT=POINT:sleep=N)
restart_pg() {
	[ -n "$_own_pg" ] || bail "restart_pg needs a cluster of the test's own"
	pg_as "$PGBIN/pg_ctl" -D "$_own_pg/data" -m fast -w -t 60 restart >/dev/null 2>&1
}
wait_fault() {
	for _ in $(seq 200); do
		grep -q "^fault: sleeping .* at $2 " "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# full CMD...: run esia-batch on a "full disk": fsync() under $FULL_DIR fails
# with ENOSPC (tests/shim/enospc.c); sets RC, OUT, ERR like eb.
full() {
	ENOSPC_DIR="$FULL_DIR" LD_PRELOAD="$TOP/build/shim/enospc.so" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$EB" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
	return 0
}
