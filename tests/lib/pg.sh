# PostgreSQL for tests, demo and bench: a throw-away cluster in a folder,
# reached over a Unix socket only. Source this file, then:
#   pg_init DIR    initdb (if needed)
#   pg_start DIR   initdb (if needed) and start; exports PGHOST PGUSER PGPORT
#   pg_huge_pages DIR  2 MiB pages the (initialised) cluster's shared memory needs
#   pg_stop DIR    stop it (fast)
#   pg_newdb NAME  create a database and export PGDATABASE
# As root the server runs as the `postgres` user (initdb refuses root).

pg_bindir() {
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && { echo "$d"; return 0; }
	done
	command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
	echo "pg.sh: no PostgreSQL server binaries found (apt-get install postgresql)" >&2
	return 1
}

pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_init() {
	_dir=$1
	_bin=$(pg_bindir) || return 1
	mkdir -p "$_dir"
	[ "$(id -u)" = 0 ] && chown postgres "$_dir"
	chmod 0700 "$_dir"
	[ -f "$_dir/data/PG_VERSION" ] && return 0
	pg_as "$_bin/initdb" -D "$_dir/data" -U esia --auth=trust -E UTF8 \
		--locale=C.UTF-8 >"$_dir/initdb.log" 2>&1 ||
		{ cat "$_dir/initdb.log" >&2; return 1; }
}

# Asked of the stopped server with the settings pg_start gives it (the
# figure depends on max_connections and shared_buffers).
pg_huge_pages() {
	pg_as "$(pg_bindir)/postgres" -D "$1/data" -c max_connections=100 ${PG_EXTRA_OPTS:-} \
		-C shared_memory_size_in_huge_pages 2>/dev/null
}

pg_start() {
	_dir=$1
	pg_init "$_dir" || return 1
	_bin=$(pg_bindir)
	mkdir -p "$_dir/sock"
	[ "$(id -u)" = 0 ] && chown postgres "$_dir/sock"
	# The socket folder must be reachable by the test user.
	chmod 0755 "$_dir" "$_dir/sock"
	pg_as "$_bin/pg_ctl" -D "$_dir/data" -l "$_dir/server.log" -w -t 60 \
		-o "-k $_dir/sock -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100 ${PG_EXTRA_OPTS:-}" \
		start >/dev/null || { cat "$_dir/server.log" >&2; return 1; }
	export PGHOST="$_dir/sock" PGUSER=esia PGPORT=5432
	unset PGPASSWORD PGSERVICE PGDATABASE
}

pg_stop() {
	_bin=$(pg_bindir) || return 1
	[ -f "$1/data/postmaster.pid" ] &&
		pg_as "$_bin/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1
	return 0
}

pg_newdb() {
	"$(pg_bindir)/createdb" "$1" || return 1
	export PGDATABASE="$1"
}
