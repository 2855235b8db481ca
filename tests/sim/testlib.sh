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
	"$PGBIN/pg_dump" --data-only --no-owner --exclude-table=batches --exclude-table=job_runs "$PGDATABASE" 2>/dev/null |
		grep -Ev '^(-- Dumped|\\restrict|\\unrestrict|SELECT pg_catalog.setval..public.batches_id_seq)' >"$1"
}
inbox_count() { find "$SP/inbox" -type f ! -name '.*' | wc -l; }

# For the refusal tests (041, 045): with requests for both agencies made,
#   fresh AG [FAULT]   a new answer to the agency's request; prints its path
#   tmpl AG PACKET_ID  the agency's answer to its request, every Result
#                      not_found (an empty registry), unsigned, in $T/AG.tmpl
#   sign AG FILE NAME  FILE signed by the agency, as inbox/AG/NAME
#   expect NAME AGENCY REASON_REGEX DESCRIPTION   import the one file in the
#                      inbox: exit 65, database unchanged, moved to rejected/
#   put AG NAME        stdin becomes inbox/AG/NAME
hostile_setup() {
	load 12 3
	requests pfr >/dev/null
	requests fms >/dev/null
	mkdir -p "$SP/inbox/pfr" "$SP/inbox/fms"
	PFR_REQ=$(basename "$(ls "$SP/outbox/pfr"/*.xml)" .xml)
	FMS_REQ=$(basename "$(ls "$SP/outbox/fms"/*.xml)" .xml)
	echo '<r/>' >"$T/empty-reg.xml"
}

tmpl() {
	local req=$PFR_REQ
	[ "$1" = fms ] && req=$FMS_REQ
	xsltproc --stringparam registry "$T/empty-reg.xml" --stringparam packet-id "$2" \
		--stringparam created-at 2026-01-01T00:00:00Z "$SIM/$1.xsl" "$SP/outbox/$1/$req.xml" >"$T/$1.tmpl" ||
		bail "xsltproc"
}
sign() {
	xmlsec1 --sign --privkey-pem "$T/pki/$1-signer.key,$T/pki/$1-signer.pem" \
		--output "$SP/inbox/$1/$3" "$2" 2>/dev/null || bail "xmlsec1 --sign"
}

fresh() { # AG [FAULT]: a new answer to the agency's request; prints its path
	rm -f "$SP/outbox/$1/.sim-answered/"*
	answer "$1" "${2:-}" | tail -1
}

# expect NAME AGENCY REASON_REGEX DESCRIPTION: import the one file in the inbox
expect() {
	dump "$T/before"
	eb import-responses
	is "$RC" 65 "$4: exit 65"
	dump "$T/after"
	is "$(cmp -s "$T/before" "$T/after" && echo unchanged)" unchanged "$4: database unchanged"
	[ -f "$SP/rejected/$2/$1" ] && [ "$(inbox_count)" = 0 ]
	ok $? "$4: moved to rejected/$2/"
	like "$(head -1 "$SP/rejected/$2/$1.reason" 2>/dev/null)" "$3" "$4: reason"
}

put() { cat >"$SP/inbox/$1/$2"; }

# hostile_finish N: N refusals were counted, one per partial batch, and the
# genuine answers still apply afterwards
hostile_finish() {
	is "$(sql "SELECT sum(rejected) FROM batches WHERE job = 'import-responses'")" "$1" "each refusal counted on its batch"
	is "$(sql "SELECT count(*) FROM batches WHERE job = 'import-responses' AND status = 'partial' AND jsonb_array_length(params->'rejected') = 1")" "$1" "each batch is partial and lists the file it refused"

	# after all that, the genuine answers still apply
	f=$(fresh pfr)
	f2=$(fresh fms)
	eb import-responses
	is "$RC" 0 "genuine answers apply afterwards"
	is "$(sql "SELECT count(*) FROM checks WHERE state IN ('passed', 'failed')")" 24 "every check answered"
}
