#!/usr/bin/env bash
# print-letters at the edges of its input and of the disk: address fields
# and names that hold only whitespace (tab, newline, no-break space) are
# missing, what is printed is trimmed of all of it, and a run of it (or of
# control characters) inside a part is one space; the batch folder's entry is made
# durable (its parent fsynced) before the codes are committed; a recorded
# batch whose folder is gone is reported while its codes are live.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/letters.sh"

make_accounts
# addresses whose required parts are whitespace of other kinds than spaces
sql "INSERT INTO accounts (level, family_name, first_name, snils, passport_series, passport_number,
	email, postal_index, region, locality, street, house, confirm_method) VALUES
 ('standard', 'Таб', 'Ь', '11223344595', '4601', '000001', 't@example.ru', '101000', 'г. Москва',
  E'\t', 'ул. Мясницкая', '1', 'mail'),
 ('standard', 'Перевод', 'Ь', '11223344595', '4601', '000002', 'n@example.ru', '101000', 'г. Москва',
  'Москва', E'\n', '1', 'mail'),
 ('standard', 'Неразрывный', 'Ь', '11223344595', '4601', '000003', 'b@example.ru', '101000', 'г. Москва',
  'Москва', E'\u00a0', '1', 'mail'),
 ('standard', 'Возврат', 'Ь', '11223344595', '4601', '000004', 'r@example.ru', '101000', 'г. Москва',
  'Москва', 'ул. Мясницкая', E'\r\n', 'mail'),
 ('standard', 'Смесь', 'Ь', '11223344595', '4601', '000005', 'm@example.ru', '101000', 'г. Москва',
  E'\u00a0 \t\u2003\u3000', 'ул. Мясницкая', '1', 'mail')" >/dev/null
# a printable address whose every part carries such whitespace around it
sql "INSERT INTO accounts (level, family_name, first_name, patronymic, snils, passport_series,
	passport_number, email, postal_index, region, district, locality, street, house, flat, confirm_method)
	VALUES ('standard', E'Пробельный\t', E'\u00a0Игорь', E'\n', '11223344595', '4601', '000006',
	'p@example.ru', '432011', E'\tУльяновская обл.\n', E'\u00a0', E' Майна\u00a0', E'\nул. Лесная\t',
	E' 3\r', E'\t\r\n', 'mail')" >/dev/null

eb print-letters
is "$RC" 65 "whitespace-only address parts: exit 65"
is "$(sql "SELECT string_agg(family_name || ': ' || coalesce(address_problem, '-'), '; ' ORDER BY id)
	FROM accounts WHERE id BETWEEN 7 AND 11")" \
	"Таб: locality missing; Перевод: street missing; Неразрывный: street missing; Возврат: house missing; Смесь: locality missing" \
	"tab, newline, no-break space, CR LF and mixed whitespace count as missing"
is "$(sql "SELECT coalesce(address_problem, '-') FROM accounts WHERE id = 12")" - "whitespace around a part is no problem"
B=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
D=$T/spool/print/$B
is "$(sql "SELECT records || '/' || rejected FROM batches WHERE id = $B")" "4/6" "4 letters, 6 accounts skipped"
is "$(sql "SELECT string_agg(account_id::text, ',') FROM letters WHERE batch_id = $B AND account_id > 6")" 12 \
	"of the new accounts, only the padded address is printed"

# the padded address: every part trimmed, the empty ones left out
python3 - "$D/registry.json" <<'PY'
import json, sys
r = [x for x in json.load(open(sys.argv[1])) if x["surname"].startswith("Пробельный")]
assert len(r) == 1, r
r = r[0]
want = {"surname": "Пробельный", "given-name": "Игорь", "recipient-name": "Пробельный Игорь",
        "region-to": "Ульяновская обл.", "place-to": "Майна", "street-to": "ул. Лесная",
        "house-to": "3", "index-to": 432011}
bad = {k: r.get(k) for k in want if r.get(k) != want[k]}
assert not bad, bad
for k in ("area-to", "room-to", "middle-name"):
    assert k not in r, (k, r)
PY
ok $? "registry.json: fields trimmed, empty district, flat and patronymic left out"
row=$(python3 -c 'import csv, sys
for r in csv.reader(open(sys.argv[1], newline="")):
    if r[1].startswith("Пробельный"):
        print(r[1] + "|" + r[2])' "$D/f103.csv")
is "$row" "Пробельный Игорь|ул. Лесная, д. 3, Майна, Ульяновская обл., 432011" "f103.csv: name and address trimmed"
page=$(sql "SELECT page FROM letters WHERE batch_id = $B AND account_id = 12")
txt=$(pdftotext -layout -f "$page" -l "$page" "$D/letters.pdf" -)
like "$txt" "ул\. Лесная, д\. 3" "the letter: street and house"
unlike "$txt" "кв\." "no empty flat"
like "$txt" "Пробельный Игорь" "the letter: the name"
like "$txt" "Уважаемый\(ая\) Игорь!" "the greeting without a patronymic: no space before the mark"

# an addressee without a family or first name (only whitespace) is skipped
# like an address problem, and printed once the name is there
sql "INSERT INTO accounts (level, family_name, first_name, snils, passport_series, passport_number,
	email, postal_index, region, locality, street, house, confirm_method) VALUES
 ('standard', E' \t\u00a0', 'Анна', '11223344595', '4601', '000007', 'f@example.ru', '101000',
  'г. Москва', 'Москва', 'ул. Мясницкая', '2', 'mail'),
 ('standard', 'Безымянная', E'\n\u3000\r', '11223344595', '4601', '000008', 'g@example.ru', '101000',
  'г. Москва', 'Москва', 'ул. Мясницкая', '3', 'mail')" >/dev/null
eb print-letters
is "$RC" 65 "blank names: exit 65"
is "$(sql "SELECT string_agg(id || ': ' || coalesce(address_problem, '-'), '; ' ORDER BY id)
	FROM accounts WHERE id IN (13, 14)")" "13: family name missing; 14: first name missing" \
	"a family or first name of whitespace only is missing"
is "$(sql "SELECT count(*) FROM letters WHERE account_id IN (13, 14)")" 0 "no letter to nobody"
like "$ERR" "level=warn .*event=print.address_problem account=13 reason=\"family name missing\"" \
	"the skipped account is logged by its id"
unlike "$ERR" "Безымянная|Анна" "and no name is logged"
sql "UPDATE accounts SET family_name = 'Фамильная' WHERE id = 13;
	UPDATE accounts SET first_name = 'Вера' WHERE id = 14" >/dev/null
eb print-letters
is "$RC" 0 "names given: exit 0"
like "$ERR" "event=print.address_fixed account=13" "the fixed account is unflagged"
is "$(sql "SELECT count(*) FROM accounts WHERE id IN (13, 14) AND address_problem IS NULL")" 2 \
	"both accounts unflagged"
B=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
is "$(sql "SELECT string_agg(account_id::text, ',' ORDER BY account_id) FROM letters WHERE batch_id = $B")" \
	"13,14" "and printed"
grep -q '"Фамильная Анна","ул. Мясницкая, д. 2, Москва, г. Москва, 101000"' "$T/spool/print/$B/f103.csv"
ok $? "f103.csv: the addressee with the given name"

# whitespace and control characters inside a part: each run is one space,
# the same in the letter, registry.json and f103.csv
sql "INSERT INTO accounts (level, family_name, first_name, patronymic, snils, passport_series,
	passport_number, email, postal_index, region, district, locality, street, house, flat, confirm_method)
	VALUES ('standard', E'Внутренний\x1b', E'Анна\u00a0\u00a0Мария', E'Петровна\u2028', '11223344595',
	'4601', '000009', 'w@example.ru', '432011', E'Ульяновская\x07обл.', E'Майнский\u0090\u0085р-н',
	E'Новая  \u2003\tМайна', E'ул.\nЛесная', E'3\r\nкорп.\x7f1', E'12\t\t', 'mail')" >/dev/null
eb print-letters
is "$RC" 0 "a part with whitespace and control characters inside is printed"
B=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
D=$T/spool/print/$B
python3 - "$D/registry.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r) == 1, r
r = r[0]
want = {"surname": "Внутренний", "given-name": "Анна Мария", "middle-name": "Петровна",
        "recipient-name": "Внутренний Анна Мария Петровна", "region-to": "Ульяновская обл.",
        "area-to": "Майнский р-н", "place-to": "Новая Майна", "street-to": "ул. Лесная",
        "house-to": "3 корп. 1", "room-to": "12"}
bad = {k: r.get(k) for k in want if r.get(k) != want[k]}
assert not bad, bad
PY
ok $? "registry.json: each run of whitespace or control characters one space"
python3 - "$D/f103.csv" <<'PY'
import sys
data = open(sys.argv[1], encoding="utf-8", newline="").read()
rows = data.split("\r\n")
assert rows[-1] == "" and len(rows) == 3, rows
bad = [c for c in data.replace("\r\n", "") if ord(c) < 0x20 or 0x7f <= ord(c) <= 0xa0 or c in "\u2028\u2029"]
assert not bad, bad
assert rows[1].startswith('"1","Внутренний Анна Мария Петровна","ул. Лесная, д. 3 корп. 1, кв. 12,'
                          ' Новая Майна, Майнский р-н, Ульяновская обл., 432011","'), rows[1]
PY
ok $? "f103.csv: one record a line, no control character or other whitespace, the same text"
txt=$(pdftotext -layout "$D/letters.pdf" -)
like "$txt" "Внутренний Анна Мария Петровна" "the letter: the name on one line"
like "$txt" "ул\. Лесная, д\. 3 корп\. 1, кв\. 12" "the letter: street, house and flat on one line"
like "$txt" "Уважаемый\(ая\) Анна Мария Петровна!" "the greeting with the same name"

# the batch folder's entry in print/ is fsynced before the record's COMMIT
# (strace -y names each fsync's folder; LeakSanitizer cannot run traced)
make_many 2
if command -v strace >/dev/null && strace -qq -o /dev/null true 2>/dev/null; then
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -y -qq -s 40 \
		-e trace=mkdir,fsync,sendto -o "$T/trace" "$EB" print-letters >"$T/out" 2>"$T/err"
	is "$?" 0 "print-letters under strace"
	B=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
	made=$(grep -n "mkdir(\"$T/spool/print/$B\", 0700) = 0" "$T/trace" | cut -d: -f1 | head -1)
	synced=$(grep -n "fsync([0-9]*<$T/spool/print>) = 0" "$T/trace" | cut -d: -f1 | head -1)
	record=$(grep -n 'WITH u AS' "$T/trace" | cut -d: -f1 | head -1)
	commit=$(awk -v r="${record:-0}" 'NR > r && /COMMIT/ { print NR; exit }' "$T/trace")
	ok "$([ -n "$made" ] && [ -n "$record" ] && [ -n "$commit" ]; echo $?)" \
		"the trace shows the folder made and the record committed"
	ok "$([ -n "$synced" ] && [ "$synced" -gt "$made" ] && [ "$synced" -lt "$commit" ]; echo $?)" \
		"print/ fsynced after batch $B's folder was made (line $made), before the COMMIT (line $commit): line ${synced:-none}"
else
	ok 0 "# SKIP strace cannot trace here"
fi

# letters recorded, folder gone (lost, removed by hand): the codes are live
# and nothing can be posted for them; every run says so until a reissue
make_many 2
faulty print.before_manifest:kill print-letters
is "$RC" 137 "killed after recording its letters"
B=$(sql "SELECT max(id) FROM batches WHERE job = 'print-letters'")
rm -rf "${T:?}/spool/print/$B"
eb print-letters
is "$RC" 0 "the next run exits 0"
like "$ERR" "level=warn .*event=print.folder_missing missing_batch=$B letters=2 live_codes=2 " \
	"and warns that batch $B's folder is missing while its codes are live"
like "$ERR" "rerun $B --force" "saying how to reissue"
eb rerun "$B" --force
is "$RC" 0 "the reissue"
eb print-letters
unlike "$ERR" "print.folder_missing" "once reissued (no live code left), no more warning"
done_testing
