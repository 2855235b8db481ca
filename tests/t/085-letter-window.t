#!/usr/bin/env bash
# The recipient block stays inside the envelope window (108..198 mm of the
# sheet's width) whatever the length of a name or an address: a long line
# is condensed, and every word of it is still on the page (pdftotext -bbox,
# an independent reader of the PDF); one condensed below 60% of its width
# is a warning.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/letters.sh"

long=$(printf 'Абдурахмонова%.0s' 1 2 3 4 5 6 7)   # 91 letters
sql "INSERT INTO accounts (level, family_name, first_name, patronymic, snils, passport_series,
	passport_number, email, postal_index, region, district, locality, street, house, flat,
	confirm_method) VALUES
 ('standard', 'Мухаммадмирзоева', 'Гулчехрабону', 'Абдурахмоновна', '11223344595', '4509',
  '123456', 'a@example.ru', '117624', 'г. Москва', NULL, 'Москва', 'Новоясеневский проспект',
  '32 корп. 1', '1015', 'mail'),
 ('standard', 'Ли', 'Ан', '$long', '11223344595', '4509', '123457', 'b@example.ru', '101000',
  'Республика Северная Осетия — Алания, муниципальное образование', 'Пригородный муниципальный район',
  'сельское поселение Верхняя Саниба', 'улица имени Героя Советского Союза генерал-лейтенанта Плиева',
  '101 строение 12', '1234', 'mail')" >/dev/null
ebl print-letters
is "$RC" 0 "two letters with long lines printed" || diag "$ERR"
B=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
# a line condensed below 60% of its width is a warning (by account id), the
# letter printed all the same; the 44-letter name (about 93%) is not
is "$(sql "SELECT status || ' ' || records || '/' || rejected FROM batches WHERE id = $B")" \
	"succeeded 2/0" "condensed lines: the batch succeeded, nothing rejected"
is "$(grep -c 'event=print.line_condensed' "$T/err")" 1 "one letter warned of"
pct=$(sed -n 's/.*level=warn .*event=print\.line_condensed account=2 page=2 width_pct=\([0-9]*\) min_pct=60$/\1/p' "$T/err")
ok "$([ -n "$pct" ] && [ "$pct" -gt 0 ] && [ "$pct" -lt 60 ]; echo $?)" \
	"account 2's letter (page 2) warned of, its narrowest line at ${pct:-?}% of its width"
unlike "$ERR" "Ли Ан|Абдурахмонов|Плиева|Алания|Мухаммад" "no name or address in the log"
pdftotext -bbox "$T/spool/print/$B/letters.pdf" "$T/bbox.html"
ok $? "pdftotext reads the PDF"
# words in the window's height (56..90 mm), their right edges in mm
python3 - "$T/bbox.html" >"$T/words" <<'PY'
import re, sys
mm = 25.4 / 72
for m in re.finditer(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
                     open(sys.argv[1], encoding="utf-8").read()):
    x0, y0, x1, y1 = (float(v) * mm for v in m.groups()[:4])
    if x0 >= 100 and 56 <= y0 <= 90:
        print("%.1f %s" % (x1, m.group(5)))
PY
widest=$(sort -n "$T/words" | tail -1)
awk '{ if ($1 > 198.5) bad = 1 } END { exit bad }' "$T/words"
ok $? "no word in the window ends right of 198 mm (widest: $widest)"
for w in 1015 Абдурахмоновна "$long" Плиева 12, 1234 Саниба Алания, района; do
	case $w in района) w=район ;; esac
	grep -q -- " $w" "$T/words"
	ok $? "\"${w:0:20}\" is in the window, not cut"
done
# the greeting line of the body stays within the sheet's margins too
python3 - "$T/bbox.html" <<'PY'
import re, sys
mm = 25.4 / 72
body = [float(m.group(2)) * mm for m in re.finditer(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="([\d.]+)"',
                                                  open(sys.argv[1], encoding="utf-8").read())
        if float(m.group(1)) * mm > 100]
sys.exit(0 if body and max(body) <= 190.5 else 1)
PY
ok $? "no word below the window ends right of the 190 mm margin"
done_testing
