#!/bin/sh
# make bench: each tests/bench/*.sh measures one job against its own database
# in one throw-away PostgreSQL and prints its figures; this file only runs them.
#   BENCH_N=...     overrides each script's default size (see the scripts)
#   BENCH_ONLY=...  space-separated names of the scripts to run (e.g. "export import")
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/lib/pg.sh"
B=$(mktemp -d "${TMPDIR:-/tmp}/esia-bench.XXXXXX")
chmod 0755 "$B"
HP=/proc/sys/vm/nr_hugepages
hp_was=
trap 'pg_stop "$B/pg"; [ -z "$hp_was" ] || echo "$hp_was" >"$HP"; rm -rf "$B"' EXIT
trap 'exit 130' INT TERM
pg_init "$B/pg" || exit 1
# The server in huge pages, as PostgreSQL's manual advises for production:
# on this kind of VM, 4 KiB pages cost the server 7-12% more CPU on the
# export and import benches (measured alternating, session 10). Reserving
# them needs root; the pool is given back on exit. Otherwise the server runs
# as it can (huge_pages=try) and the figures say so.
need=$(pg_huge_pages "$B/pg")
if [ "$(id -u)" = 0 ] && [ -w "$HP" ] && [ -n "$need" ]; then
	hp_was=$(cat "$HP")
	echo $((hp_was + need)) >"$HP" 2>/dev/null
	if [ "$(cat "$HP")" -ge $((hp_was + need)) ]; then
		export PG_EXTRA_OPTS="${PG_EXTRA_OPTS:-} -c huge_pages=on"
	else
		echo "$hp_was" >"$HP"
		hp_was=
	fi
fi
pg_start "$B/pg" || exit 1
# (huge_pages=on: the server would not have started without them)
case "${PG_EXTRA_OPTS:-}" in
*huge_pages=on*) echo "PostgreSQL server in huge pages ($need reserved for it)" ;;
*) echo "PostgreSQL server in 4 KiB pages unless the kernel had huge pages free (reserving them needs root): expect slower figures" ;;
esac
export ESIA_BENCH_DIR="$B" ESIA_BATCH="${ESIA_BATCH:-$TOP/esia-batch}" PGBIN="$(pg_bindir)"
rc=0
for s in "$TOP"/tests/bench/*.sh; do
	[ -f "$s" ] || continue
	case " ${BENCH_ONLY:-$(basename "$s" .sh)} " in *" $(basename "$s" .sh) "*) ;; *) continue ;; esac
	echo "== $(basename "$s" .sh)"
	sh "$s" || rc=1
done
exit $rc
