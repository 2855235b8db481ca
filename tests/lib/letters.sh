# Shared setup for the letter tests (050-059): an HMAC key file, tracking
# ranges and standard mail accounts built directly in SQL.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/hmac.key"
chmod 0600 "$T/hmac.key"
CONFIG_EXTRA="[letters]
hmac_key = $T/hmac.key
tracking_ranges = ${TRACKING_RANGES:-10100025:1-99999}
sender_address = ул. Тверская, д. 7, Москва
sender_index = 125375
${LETTERS_EXTRA:-}"
write_config

# make_accounts: three printable accounts and one without a house.
make_accounts() {
	sql "INSERT INTO accounts (level, family_name, first_name, patronymic, snils,
		passport_series, passport_number, email, phone, postal_index, region, district,
		locality, street, house, flat, confirm_method) VALUES
	('standard', 'Иванов', 'Иван', 'Иванович', '11223344595', '4509', '123456',
	 'ivanov@example.ru', NULL, '101000', 'г. Москва', NULL, 'Москва', 'ул. Мясницкая', '24', '7', 'mail'),
	('standard', 'Петрова', 'Мария', 'Сергеевна', '11223344595', '4510', '654321',
	 NULL, '+79123456789', '432011', 'Ульяновская обл.', 'Майнский р-н', 'пос. Игнатовка', 'ул. Лесная', '3', '12', 'mail'),
	('standard', 'Сидоров', 'Пётр', 'Алексеевич', '11223344595', '4511', '111222',
	 'sidorov@example.ru', '+79223456789', '630090', 'Новосибирская обл.', NULL, 'Новосибирск', 'пр-т Академика Лаврентьева', '6', '1', 'mail'),
	('standard', 'Безадресный', 'Олег', NULL, '11223344595', '4512', '333444',
	 'oleg@example.ru', NULL, '101000', 'г. Москва', NULL, 'Москва', 'ул. Мясницкая', NULL, NULL, 'mail'),
	('standard', 'Другой', 'Способ', NULL, '11223344595', '4513', '555666',
	 'other@example.ru', NULL, '101000', 'г. Москва', NULL, 'Москва', 'ул. Мясницкая', '1', NULL, 'service_centre'),
	('simplified', 'Упрощённый', 'Юзер', NULL, NULL, NULL, NULL,
	 'simple@example.ru', NULL, '101000', 'г. Москва', NULL, 'Москва', 'ул. Мясницкая', '1', NULL, 'mail')" >/dev/null
}

# make_many N: N printable accounts.
make_many() {
	sql "INSERT INTO accounts (level, family_name, first_name, patronymic, snils, passport_series,
		passport_number, email, postal_index, region, locality, street, house, flat, confirm_method)
	SELECT 'standard', 'Фамилия' || chr(1040 + i % 32), 'Имя', 'Отчество', '11223344595', '4509',
		lpad(i::text, 6, '0'), 'u' || i || '@example.ru', '101000', 'г. Москва', 'Москва',
		'ул. Номер ' || i, (i % 90 + 1)::text, (i % 300 + 1)::text, 'mail'
	FROM generate_series(1, $1) AS i" >/dev/null
}

# check_digit_ok BARCODE: DESIGN.md §4 rule, computed here in the shell.
check_digit_ok() {
	local d=$1 s=0 i
	for i in 0 2 4 6 8 10 12; do s=$((s + 3 * ${d:i:1})); done
	for i in 1 3 5 7 9 11; do s=$((s + ${d:i:1})); done
	[ $(((10 - s % 10) % 10)) = "${d:13:1}" ]
}

# read_codes DIR: "account code" per letter of the batch in DIR, the code
# read from that letter's page with pdftotext (the only place it exists).
read_codes() {
	local dir=$1 b page acct txt
	b=$(basename "$dir")
	sql "SELECT page, account_id FROM letters WHERE batch_id = $b ORDER BY page" |
	while IFS='|' read -r page acct; do
		txt=$(pdftotext -layout -f "$page" -l "$page" "$dir/letters.pdf" -)
		printf '%s %s\n' "$acct" "$(printf '%s\n' "$txt" |
			grep -Eo '^ *[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4} *$' | tr -d ' ')"
	done
}

# damm DIGITS: the Damm check digit, an implementation independent of ours.
damm() {
	python3 -c '
import sys
t = ["0317598642", "7092154863", "4206871359", "1750983426", "6123045978",
     "3674209581", "5869720134", "8945362017", "9438617205", "2581436790"]
i = 0
for ch in sys.argv[1]:
    i = int(t[i][int(ch)])
print(i)' "$1"
}

# ebl: eb, keeping every stderr in $T/all.err (to search the logs for codes).
ebl() {
	eb "$@"
	cat "$T/err" >>"$T/all.err"
}
