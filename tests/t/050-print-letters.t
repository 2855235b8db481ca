#!/usr/bin/env bash
# print-letters: letters for standard mail accounts, read back by independent
# tools: pdftotext finds each citizen's name, address and code on their page,
# zbarimg decodes each page's barcode to that letter's tracking number, the
# registry parses and matches the database; the printed code redeems.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/letters.sh"

eb print-letters --help
is "$RC" 0 "--help"
like "$OUT" "65 " "help documents exit codes"
eb print-letters --limit zero
is "$RC" 2 "a bad option is a usage error"

ebl print-letters
is "$RC" 0 "no accounts: exits 0"
like "$OUT" "nothing to print" "and says so"

make_accounts
ebl print-letters
is "$RC" 65 "letters printed, one account skipped: exit 65"
[ "$RC" = 65 ] || diag "$ERR"
B=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
D=$T/spool/print/$B
is "$(sql "SELECT status || '/' || records || '/' || rejected FROM batches WHERE id = $B")" "partial/3/1" "batch recorded with counts"
like "$(sql "SELECT address_problem FROM accounts WHERE family_name = 'Безадресный'")" "house missing" "address problem visible to operators"
for f in letters.pdf registry.json f103.csv manifest.json; do
	[ -f "$D/$f" ]; ok $? "$f written"
	is "$(stat -c %a "$D/$f")" 600 "$f is 0600"
done
is "$(ls -A "$D" | grep -c '^\.')" 0 "no temporaries left"

# manifest: hashes of the files, checked by sha256sum
python3 - "$D" <<'PY' >"$T/sums"
import json, sys
m = json.load(open(sys.argv[1] + "/manifest.json"))
assert m["letters"] == 3, m
for f in m["files"]:
    print(f"{f['sha256']}  {sys.argv[1]}/{f['name']}")
PY
ok $? "manifest parses"
(sha256sum -c --quiet "$T/sums") ; ok $? "manifest hashes match the files"

# PDF: one page per letter, fonts embedded
is "$(pdfinfo "$D/letters.pdf" | awk '/^Pages:/ {print $2}')" 3 "3 pages"
is "$(pdffonts "$D/letters.pdf" | awk 'NR > 2 && $(NF-4) != "yes"' | wc -l)" 0 "all fonts embedded"
like "$(pdffonts "$D/letters.pdf")" "DejaVuSans" "DejaVu fonts"

# each page: that citizen's name, address lines, code; its barcode decodes to
# that letter's tracking number
pdftoppm -r 200 -png "$D/letters.pdf" "$T/page"
while IFS='|' read -r page acct fam first patr street house flat loc idx bc; do
	txt=$(pdftotext -layout -f "$page" -l "$page" "$D/letters.pdf" -)
	like "$txt" "$fam $first $patr" "page $page: recipient name"
	like "$txt" "$street, д\. $house, кв\. $flat" "page $page: street, house, flat"
	like "$txt" "$loc" "page $page: locality"
	like "$txt" "$idx" "page $page: index"
	like "$txt" "${bc:0:6} ${bc:6:2} ${bc:8:5} ${bc:13:1}" "page $page: tracking number grouped 6-2-5-1"
	png=$(ls "$T"/page-*"$page".png | head -1)
	is "$(zbarimg --raw -q "$png" 2>/dev/null | tr -d '\n')" "$bc" "page $page: barcode decodes to the tracking number"
	# what the DL envelope's window shows (105..200 x 40..95 mm): the barcode
	# the Post scans, the registered mark, the address with its index
	pdftoppm -r 200 -png -f "$page" -l "$page" -x 827 -y 315 -W 748 -H 433 "$D/letters.pdf" "$T/win"
	is "$(zbarimg --raw -q "$(ls "$T"/win*.png | head -1)" 2>/dev/null | tr -d '\n')" "$bc" "page $page: the barcode reads through the window"
	rm -f "$T"/win*.png
	win=$(pdftotext -layout -f "$page" -l "$page" -x 298 -y 113 -W 269 -H 156 "$D/letters.pdf" -)
	like "$win" "ЗАКАЗНОЕ" "page $page: the registered mark is in the window"
	like "$win" "$fam $first $patr" "page $page: the name is in the window"
	like "$win" "$idx" "page $page: the index is in the window"
	code=$(printf '%s\n' "$txt" | grep -Eo '^ *[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4} *$' | tr -d ' ')
	is "${#code}" 16 "page $page: the code on a line of its own"
	echo "$acct $code" >>"$T/codes"
done < <(sql "SELECT l.page, a.id, a.family_name, a.first_name, a.patronymic, a.street, a.house,
	a.flat, a.locality, a.postal_index, l.barcode FROM letters l JOIN accounts a ON a.id = l.account_id
	WHERE l.batch_id = $B ORDER BY l.page")

# tracking numbers: valid check digits (validate command), burned, unique
for bc in $(sql "SELECT barcode FROM letters WHERE batch_id = $B"); do
	check_digit_ok "$bc" || echo "bad $bc"
done >"$T/badbc"
is "$(cat "$T/badbc")" "" "tracking numbers pass the check-digit rule"
is "$(sql "SELECT count(*) FROM tracking_numbers WHERE batch_id = $B")" 3 "tracking numbers burned"

# registry JSON matches the database, CSV has a row per letter
sql "SELECT json_agg(json_build_object('barcode', l.barcode, 'index', a.postal_index::int,
	'surname', a.family_name, 'street', a.street) ORDER BY l.page) FROM letters l
	JOIN accounts a ON a.id = l.account_id WHERE l.batch_id = $B" >"$T/db.json"
python3 - "$D/registry.json" "$T/db.json" <<'PY'
import json, sys
reg = json.load(open(sys.argv[1])); db = json.load(open(sys.argv[2]))
assert len(reg) == len(db), (len(reg), len(db))
for r, d in zip(reg, db):
    assert r["barcode"] == d["barcode"] and r["index-to"] == d["index"], (r, d)
    assert r["surname"] == d["surname"] and r["street-to"] == d["street"], (r, d)
    assert r["mail-type"] == "LETTER" and r["mail-category"] == "ORDERED", r
    assert r["mail-direct"] == 643 and r["address-type-to"] == "DEFAULT", r
    assert r["mass"] == 20 and r["recipient-name"].startswith(d["surname"]), r
PY
ok $? "registry.json parses and matches the database"
is "$(python3 -c 'import csv,sys; print(len(list(csv.reader(open(sys.argv[1], newline=""))))-1)' "$D/f103.csv")" 3 "f103.csv: one row per letter"

# database: one live code and one letter per account, notices, audit
is "$(sql "SELECT count(*) FROM activation_codes WHERE status = 'live'")" 3 "3 live codes"
is "$(sql "SELECT count(*) FROM activation_codes WHERE expires_at > now() + interval '59 days'")" 3 "expire after code_ttl"
is "$(sql "SELECT count(DISTINCT event_key) FROM notifications WHERE event = 'letter_sent'")" 3 "letter_sent notices"
is "$(sql "SELECT count(*) FROM audit_events WHERE event = 'letter_printed' AND batch_id = $B")" 3 "audit events"

# nothing left to do
ebl print-letters
is "$RC" 0 "second run: nothing to do"
like "$OUT" "nothing to print" "says so"

# no plaintext code in the database or the logs
"$PGBIN/pg_dump" >"$T/dump.sql" 2>/dev/null
leaks=0
while read -r acct code; do
	grep -q "$code" "$T/dump.sql" "$T/all.err" && leaks=1
	grep -q "${code:0:8}" "$T/dump.sql" && leaks=1
done <"$T/codes"
like "$(cat "$T/all.err")" "event=print.recorded" "(the logs searched are the job's)"
is "$leaks" 0 "no plaintext code in pg_dump or the logs"

# the printed code redeems
read -r acct code < <(head -1 "$T/codes")
ebl redeem "$acct" "${code:0:4} ${code:4:4}-${code:8:4} ${code:12:4}"
is "$RC" 0 "the code read from the PDF redeems"
[ "$RC" = 0 ] || diag "$OUT $ERR"
is "$(sql "SELECT level FROM accounts WHERE id = $acct")" confirmed "account confirmed"
done_testing
