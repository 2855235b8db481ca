#!/bin/sh
# Agency simulator: answers every request packet in OUTBOX_DIR with a signed
# response packet in INBOX_DIR, as PFR or FMS would. Built from xsltproc and
# the xmlsec1 command line only (never from esia-batch's own code), so it is
# an independent peer for the importer.
#
#   tests/sim/agency.sh pfr|fms OUTBOX_DIR INBOX_DIR REGISTRY.csv PKI_DIR [FAULT]
#
# REGISTRY.csv is fixtures/gen-citizens' pfr-registry / fms-registry; PKI_DIR
# is made by tests/lib/pki.sh. Each request is answered once (hidden markers
# in OUTBOX_DIR/.sim-answered); responses appear atomically as
# INBOX_DIR/<response PacketId>.xml. The last response's path is printed.
# FAULT, applied to every request answered in this run:
#   drop            answer nothing (the request counts as answered)
#   delay           keep the answer back; the next run without "delay" delivers it
#   duplicate       deliver the same signed answer twice, under two file names
#   badsig          alter one byte of the signed answer
#   foreign         sign with foreign-signer (untrusted CA)
#   expired         sign with pfr-expired (right CA, validity ended 2020)
#   unknown-record  add a Result for a CheckId that is not in the request
#   wrong-request   InReplyTo names a random packet id
# Exit: 0, 1 failure, 2 usage.
set -eu
usage() { echo "usage: agency.sh pfr|fms OUTBOX_DIR INBOX_DIR REGISTRY.csv PKI_DIR [FAULT]" >&2; exit 2; }
[ $# -ge 5 ] || usage
AG=$1 OUTBOX=$2 INBOX=$3 REG=$4 PKI=$5 FAULT=${6:-}
HERE=$(cd "$(dirname "$0")" && pwd)
case $AG in pfr|fms) ;; *) usage ;; esac
case $FAULT in ''|drop|delay|duplicate|badsig|foreign|expired|unknown-record|wrong-request) ;;
*) echo "agency.sh: unknown fault \"$FAULT\"" >&2; exit 2 ;; esac
[ -d "$OUTBOX" ] || { echo "agency.sh: no outbox folder $OUTBOX" >&2; exit 1; }
[ -r "$REG" ] || { echo "agency.sh: cannot read registry $REG" >&2; exit 1; }
mkdir -p "$INBOX" "$OUTBOX/.sim-answered" "$OUTBOX/.sim-delayed"
umask 077

uuid() { cat /proc/sys/kernel/random/uuid; }
deliver() { # FILE NAME: appear atomically in the inbox
	cp "$1" "$INBOX/.$2.tmp"
	mv "$INBOX/.$2.tmp" "$INBOX/$2"
	echo "$INBOX/$2"
}

# Answers held back by an earlier "delay" run go out now.
if [ "$FAULT" != delay ]; then
	for f in "$OUTBOX"/.sim-delayed/*.xml; do
		[ -f "$f" ] || continue
		deliver "$f" "$(basename "$f")"
		rm -f "$f"
	done
fi

signer=$AG-signer
case $FAULT in
foreign) signer=foreign-signer ;;
expired) signer=pfr-expired ;;
esac
[ -r "$PKI/$signer.key" ] || { echo "agency.sh: no key $PKI/$signer.key (run tests/lib/pki.sh)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/agency-sim.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The registry as XML for the stylesheet's key() lookups.
if [ "$AG" = pfr ]; then
	awk -F, 'function x(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/"/, "\\&quot;", s); return s }
		BEGIN { print "<r>" }
		{ printf "<p s=\"%s\" f=\"%s\" i=\"%s\" o=\"%s\" g=\"%s\" b=\"%s\"/>\n", x($1), x($2), x($3), x($4), x($5), x($6) }
		END { print "</r>" }' "$REG" >"$work/registry.xml"
else
	awk -F, 'function x(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/"/, "\\&quot;", s); return s }
		BEGIN { print "<r>" }
		{ printf "<p k=\"%s%s\" st=\"%s\" r=\"%s\" d=\"%s\"/>\n", x($1), x($2), x($3), x($4), x($5) }
		END { print "</r>" }' "$REG" >"$work/registry.xml"
fi

for req in "$OUTBOX"/*.xml; do
	[ -f "$req" ] || continue
	name=$(basename "$req")
	[ -e "$OUTBOX/.sim-answered/$name" ] && continue
	id=$(uuid)
	set -- --stringparam registry "$work/registry.xml" --stringparam packet-id "$id" \
		--stringparam created-at "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	[ "$FAULT" = wrong-request ] && set -- "$@" --stringparam reply-to "$(uuid)"
	[ "$FAULT" = unknown-record ] && set -- "$@" --stringparam extra-record 9000000000001
	if [ "$FAULT" != drop ]; then
		xsltproc --nonet "$@" -o "$work/tmpl.xml" "$HERE/$AG.xsl" "$req"
		xmlsec1 --sign --privkey-pem "$PKI/$signer.key,$PKI/$signer.pem" \
			--output "$work/signed.xml" "$work/tmpl.xml" 2>"$work/xmlsec.err" ||
			{ cat "$work/xmlsec.err" >&2; exit 1; }
		case $FAULT in
		badsig) # one byte of the signed content changes: the digest no longer matches
			sed -i '0,/CreatedAt="2/s//CreatedAt="1/' "$work/signed.xml" ;;
		esac
		case $FAULT in
		delay) cp "$work/signed.xml" "$OUTBOX/.sim-delayed/$id.xml" ;;
		duplicate) deliver "$work/signed.xml" "$id.xml"; deliver "$work/signed.xml" "$id.dup.xml" ;;
		*) deliver "$work/signed.xml" "$id.xml" ;;
		esac
	fi
	: >"$OUTBOX/.sim-answered/$name"
done
