#!/usr/bin/env bash
# A constraint violation on a row holding personal data: PostgreSQL's DETAIL
# ("Failing row contains (...)") lists every column, SNILS and passport
# included; a unique violation's quotes the key. The log names the constraint
# and table instead, and the batch's error in the ledger (which the auditor
# role reads) carries only the SQLSTATE and those names.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/export.sh"

sh "$TOP/tests/lib/pki.sh" "$PKI" || bail "cannot make the test PKI"
CONFIG_EXTRA="[signer]
key = $PKI/esia-signer.key
cert = $PKI/esia-signer.pem"
write_config

# a SNILS with a wrong check number (112-233-445 96): export refuses it
# locally and marks the account rejected, which t_fail forbids
acc=$(sql "INSERT INTO accounts (level, family_name, first_name, gender, birth_date, snils,
	passport_series, passport_number, passport_issue_date, passport_issuer_code, phone, data_status)
	VALUES ('simplified', 'Петров', 'Иван', 'M', '1990-01-01', '11223344596', '4509', '987654',
	'2010-05-12', '770-001', '+79123456789', 'pending') RETURNING id")
sql "INSERT INTO checks (account_id, agency, data_version) VALUES ($acc, 'pfr', 1)" >/dev/null
sql "ALTER TABLE accounts ADD CONSTRAINT t_fail CHECK (data_status <> 'rejected') NOT VALID"

eb export-checks --agency pfr
is "$RC" 1 "the refusal cannot be recorded: exit 1"
like "$ERR" 'violates check constraint "t_fail"' "the log says which constraint failed"
like "$ERR" "constraint=t_fail table=accounts" "and names constraint and table"
like "$ERR" "row values withheld" "and says the row was withheld"
unlike "$ERR" "Failing row|11223344596|987654" "but never shows the row, its SNILS or passport"
err=$(sql "SELECT error FROM batches WHERE job = 'export-checks'")
like "$err" "constraint=t_fail table=accounts" "the batch's error names constraint and table"
unlike "$err" "11223344596|987654|Failing row" "and holds no personal data"
is "$(sql "SELECT state FROM checks WHERE account_id = $acc")" pending "the check stays pending"

# a unique violation's DETAIL quotes the key ("Key (snils, ...)=(...)"): the
# same rule for every integrity violation (SQLSTATE class 23)
sql "ALTER TABLE accounts DROP CONSTRAINT t_fail"
sql "INSERT INTO accounts (family_name, first_name, snils, phone, data_status, data_reject_reason)
	VALUES ('Петрова', 'Анна', '11223344596', '+79123456780', 'rejected', 'x')" >/dev/null
sql "CREATE UNIQUE INDEX t_one_rejected ON accounts (snils, data_status)"
eb export-checks --agency pfr
is "$RC" 1 "a unique violation: exit 1"
like "$ERR" "constraint=t_one_rejected table=accounts \(row values withheld\)" \
	"the log names the index and table"
unlike "$ERR" "Key \(|11223344596|987654" "but not the key's values"
like "$(sql "SELECT error FROM batches ORDER BY id DESC LIMIT 1")" \
	"^recording refused checks failed \(sqlstate=23505 constraint=t_one_rejected table=accounts\)$" \
	"the batch's error: names only"
done_testing
