# Helpers for the export-checks tests (030-039). Source after harness.sh.
#   export_setup N [EXTRA-CONFIG]   PKI, signer config, N citizens loaded
#   packet_ids FILE                 CheckIds in a packet, one per line
#   all_packet_ids AGENCY           CheckIds over every file in outbox/AGENCY
#   check_once AGENCY LABEL         each check in exactly one live packet file,
#                                   the work queue empty (five assertions)
export PSQL="$PGBIN/psql"
PKI=$T/pki
OUTBOX=$T/spool/outbox

export_setup() {
	sh "$TOP/tests/lib/pki.sh" "$PKI" || bail "cannot make the test PKI"
	CONFIG_EXTRA="[signer]
key = $PKI/esia-signer.key
cert = $PKI/esia-signer.pem
${2:-}"
	write_config
	"$TOP/fixtures/load.sh" "$1" 1 "$T/reg" >/dev/null || bail "cannot load fixtures"
}

packet_ids() {
	xmllint --xpath '//*[local-name()="Record"]/@CheckId' "$1" 2>/dev/null |
		tr ' ' '\n' | sed -n 's/^CheckId="\([0-9]*\)"$/\1/p'
}

all_packet_ids() {
	for f in "$OUTBOX/$1"/*.xml; do
		[ -e "$f" ] && packet_ids "$f"
	done
}

check_once() { # AGENCY LABEL
	local files
	all_packet_ids "$1" | sort -n >"$T/ids"
	is "$(uniq -d "$T/ids" | wc -l)" 0 "$2: no check in two packet files"
	is "$(md5sum <"$T/ids")" "$(sql "SELECT id FROM checks WHERE agency = '$1' AND state = 'sent' ORDER BY id" | md5sum)" \
		"$2: the files hold exactly the sent checks"
	files=$(ls "$OUTBOX/$1" | grep -c '\.xml$')
	is "$files" "$(sql "SELECT count(*) FROM packets WHERE agency = '$1'")" "$2: one file per recorded packet"
	is "$(sql "SELECT count(*) FROM checks WHERE agency = '$1' AND state = 'pending'")" 0 "$2: nothing left pending"
	is "$(sql "SELECT count(*) FROM check_queue WHERE agency = '$1'")" 0 "$2: nothing left in the work queue"
}
