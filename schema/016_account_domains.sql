-- The rules on a citizen's identity and contact fields move from CHECK
-- constraints on `accounts` into domains, one per field. PostgreSQL
-- evaluates every CHECK of a table on every UPDATE, whatever the update
-- changes; a domain's CHECK is evaluated when a value is written to the
-- column. import-responses updates a million accounts' level and data
-- status and never their SNILS, passport, names or addresses, yet each
-- update ran seven regular expressions and five other tests on them: 8% of
-- the server's CPU in a 1M import (perf), and the promotion and failure
-- statements took 10-13% longer (three alternating 1M runs, against the
-- other statements of the same run). The rules are the same and still the
-- database's: a value that breaks one cannot be inserted, updated or copied
-- in, by esia-batch or by the portal.
--
-- The columns change type without a rewrite (each domain is made without
-- its rule, the column's type changed, then the rule added, which checks the
-- rows once: a scan of `accounts` per rule, inside the migration's exclusive
-- lock on it; 2.5 s in all for 500,000 accounts). The checks that tie two columns
-- together (a standard account has SNILS and passport; e-mail or phone) and
-- those on the fields the jobs change stay on the table.
--
-- Safe to run twice: a domain, a type change or a rule already made is
-- left as it is.
DO $do$
DECLARE
  -- column, its domain, the domain's base type, the rule (001's CHECK)
  f text[] := ARRAY[
    ['family_name', 'acct_name', 'text', 'length(VALUE) BETWEEN 1 AND 100'],
    ['first_name', 'acct_name', 'text', 'length(VALUE) BETWEEN 1 AND 100'],
    ['patronymic', 'acct_patronymic', 'text', 'length(VALUE) <= 100'],
    ['gender', 'acct_gender', 'char(1)', $$VALUE IN ('M', 'F')$$],
    ['birth_date', 'acct_birth_date', 'date', $$VALUE > '1900-01-01'$$],
    ['snils', 'acct_snils', 'char(11)', $$VALUE ~ '^[0-9]{11}$'$$],
    ['passport_series', 'acct_passport_series', 'char(4)', $$VALUE ~ '^[0-9]{4}$'$$],
    ['passport_number', 'acct_passport_number', 'char(6)', $$VALUE ~ '^[0-9]{6}$'$$],
    ['passport_issuer_code', 'acct_passport_issuer_code', 'char(7)', $$VALUE ~ '^[0-9]{3}-[0-9]{3}$'$$],
    ['email', 'acct_email', 'text', $$VALUE ~ '^[^@[:space:]]+@[^@[:space:]]+$'$$],
    ['phone', 'acct_phone', 'text', $$VALUE ~ '^\+79[0-9]{9}$'$$],
    ['postal_index', 'acct_postal_index', 'char(6)', $$VALUE ~ '^[1-9][0-9]{5}$'$$],
    ['confirm_method', 'acct_confirm_method', 'text', $$VALUE IN ('mail', 'service_centre', 'esignature')$$]];
  cmds text[] := '{}';
BEGIN
  FOR i IN 1 .. array_length(f, 1) LOOP
    IF to_regtype(f[i][2]) IS NULL THEN
      EXECUTE format('CREATE DOMAIN %I AS %s', f[i][2], f[i][3]);
    END IF;
    -- the table's CHECK on this column (001 named it accounts_<column>_check)
    cmds := cmds || format('DROP CONSTRAINT IF EXISTS %I', 'accounts_' || f[i][1] || '_check');
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'accounts'::regclass
                   AND attname = f[i][1] AND atttypid = to_regtype(f[i][2])) THEN
      cmds := cmds || format('ALTER COLUMN %I TYPE %I', f[i][1], f[i][2]);
    END IF;
  END LOOP;
  -- one statement: the checks that stay are tested in one pass
  EXECUTE 'ALTER TABLE accounts ' || array_to_string(cmds, ', ');

  FOR i IN 1 .. array_length(f, 1) LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE contypid = to_regtype(f[i][2])
                   AND conname = f[i][2] || '_check') THEN
      EXECUTE format('ALTER DOMAIN %I ADD CONSTRAINT %I CHECK (%s)', f[i][2], f[i][2] || '_check', f[i][4]);
    END IF;
  END LOOP;
END $do$;
