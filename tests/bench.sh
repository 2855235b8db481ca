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
trap 'pg_stop "$B/pg"; rm -rf "$B"' EXIT INT TERM
pg_start "$B/pg" || exit 1
export ESIA_BENCH_DIR="$B" ESIA_BATCH="${ESIA_BATCH:-$TOP/esia-batch}" PGBIN="$(pg_bindir)"
rc=0
for s in "$TOP"/tests/bench/*.sh; do
	[ -f "$s" ] || continue
	case " ${BENCH_ONLY:-$(basename "$s" .sh)} " in *" $(basename "$s" .sh) "*) ;; *) continue ;; esac
	echo "== $(basename "$s" .sh)"
	sh "$s" || rc=1
done
exit $rc
