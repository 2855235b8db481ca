#!/bin/sh
# make demo: the whole pipeline on a throw-away PostgreSQL under var/.
#   tests/demo.sh        (re)create var/ and run everything; leaves the database running
#   tests/demo.sh stop   stop the demo's database and servers
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
VAR=$TOP/var
EB=$TOP/esia-batch
CONF=$VAR/esia-batch.conf
N=${DEMO_N:-500}
. "$TOP/tests/lib/pg.sh"
PGBIN=$(pg_bindir)

stop_all() {
	for pidf in "$VAR"/*.pid; do
		[ -f "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null || true
		rm -f "$pidf"
	done
	pg_stop "$VAR/pg"
}

if [ "${1:-}" = stop ]; then
	stop_all
	echo "demo stopped"
	exit 0
fi

step() { printf '\n== %s\n' "$*"; }
eb() { "$EB" --config "$CONF" "$@"; }

step "fresh var/ (a previous demo is stopped and removed)"
[ -d "$VAR" ] && stop_all
rm -rf "$VAR"
mkdir -p "$VAR"
chmod 0755 "$VAR"

step "test PKI (project, PFR, FMS signers) in var/pki"
sh "$TOP/tests/lib/pki.sh" "$VAR/pki"

step "PostgreSQL in var/pg (Unix socket only)"
pg_start "$VAR/pg"
"$PGBIN/createdb" esia
export PGDATABASE=esia

cat >"$CONF" <<EOF
# The demo's configuration: try any command by hand with
#   ./esia-batch --config var/esia-batch.conf status
[database]
conninfo = host=$VAR/pg/sock dbname=esia user=esia

[spool]
root = spool

[paths]
formats = $TOP/formats

[metrics]
file = metrics/esia-batch.prom
EOF

step "migrate"
eb migrate

step "$N synthetic citizens with pending PFR and FMS checks"
PSQL="$PGBIN/psql" sh "$TOP/fixtures/load.sh" "$N" 1 "$VAR/registries"

step "status"
eb status

cat <<EOF

The demo database is running. Inspect it with:
  $PGBIN/psql -h $VAR/pg/sock -U esia esia
Try commands with:   ./esia-batch --config var/esia-batch.conf status
Stop everything:     make demo-stop
EOF
