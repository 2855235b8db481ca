# Shared setup for the importer's end-to-end tests (tests/t/04x-*.t), sourced
# after tests/lib/harness.sh: a test PKI, trust anchors in the config, and
#   load N SEED          synthetic citizens (fixtures/load.sh), registries in $T/reg
#   requests AG [PER]    request packets for AG's pending checks (tests/sim/requests.sh)
#   answer AG [FAULT]    the simulated agency answers every unanswered request
#   dump FILE            pg_dump --data-only of everything but the batches table
export PSQL="$PGBIN/psql"
SIM=$TOP/tests/sim
SP=$T/spool
sh "$TOP/tests/lib/pki.sh" "$T/pki" || bail "cannot make the test PKI"
CONFIG_EXTRA="[pfr]
trust_anchor = $T/pki/pfr-ca.pem
[fms]
trust_anchor = $T/pki/fms-ca.pem
${CONFIG_EXTRA:-}"
write_config

load() { "$TOP/fixtures/load.sh" "$1" "$2" "$T/reg" >/dev/null || bail "cannot load fixtures"; }
requests() { sh "$SIM/requests.sh" "$1" "$SP/outbox/$1" "${2:-1000}" || bail "cannot make requests"; }
answer() {
	sh "$SIM/agency.sh" "$1" "$SP/outbox/$1" "$SP/inbox/$1" "$T/reg/$1-registry.csv" "$T/pki" ${2:-} ||
		bail "the agency simulator failed"
}
dump() {
	"$PGBIN/pg_dump" --data-only --no-owner --exclude-table=batches "$PGDATABASE" 2>/dev/null |
		grep -Ev '^(-- Dumped|\\restrict|\\unrestrict|SELECT pg_catalog.setval..public.batches_id_seq)' >"$1"
}
inbox_count() { find "$SP/inbox" -type f ! -name '.*' | wc -l; }
