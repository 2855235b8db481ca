-- Import's promotion of an account to standard becomes a HOT update.
--
-- A promotion changed `level`, a column in accounts_mail_idx's WHERE
-- (print-letters' candidates: standard accounts that chose the mail route),
-- so PostgreSQL could never update the row in place: each promotion wrote
-- the row to the end of the table (extending it) with a new entry in the
-- primary key and, for mail accounts, in accounts_mail_idx. Now:
--
-- * print-letters' candidates are the table `letter_queue`, kept by the
--   triggers below from every writer of accounts (the portal's contract is
--   unchanged: an account is a candidate when its level and confirm_method
--   say so). The queue holds exactly the accounts that accounts_mail_idx
--   did; print-letters still tests each account it reads.
-- * with no index depending on level or data_status, and room on the page
--   (fillfactor 50: the one update most rows get in their life here, the
--   promotion or the rejection, fits beside the old version), import's
--   updates of accounts are HOT.
--
-- Measured on 1,000,000 answers (500,000 citizens, 400,000 promoted), same
-- binary, alternating: see README "Performance".
--
-- Pages written from now on keep the reserve; existing pages keep theirs
-- until the table is rewritten (VACUUM FULL or pg_repack in a maintenance
-- window). New registrations, which are the accounts import promotes, get
-- it at once.
--
-- Every statement is safe to run twice.
CREATE TABLE IF NOT EXISTS letter_queue (
  account_id bigint PRIMARY KEY
);

-- An account's id never changes (checks and letters refer to it), so the
-- queue follows level and confirm_method only.
CREATE OR REPLACE FUNCTION letter_queue_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'DELETE' AND NEW.level = 'standard' AND NEW.confirm_method = 'mail' THEN
    INSERT INTO letter_queue (account_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
  ELSE
    DELETE FROM letter_queue WHERE account_id = OLD.id;
  END IF;
  RETURN NULL;
END $$;

-- The WHENs keep the function out of every write that does not move an
-- account into or out of the set (import's rejections, print-letters'
-- address flags, the portal's edits of other fields).
DROP TRIGGER IF EXISTS accounts_letter_queue_new ON accounts;
CREATE TRIGGER accounts_letter_queue_new AFTER INSERT ON accounts
  FOR EACH ROW WHEN (NEW.level = 'standard' AND NEW.confirm_method = 'mail')
  EXECUTE FUNCTION letter_queue_keep();
DROP TRIGGER IF EXISTS accounts_letter_queue_change ON accounts;
CREATE TRIGGER accounts_letter_queue_change AFTER UPDATE OF level, confirm_method ON accounts
  FOR EACH ROW WHEN ((NEW.level = 'standard' AND NEW.confirm_method IS NOT DISTINCT FROM 'mail')
                     <> (OLD.level = 'standard' AND OLD.confirm_method IS NOT DISTINCT FROM 'mail'))
  EXECUTE FUNCTION letter_queue_keep();
DROP TRIGGER IF EXISTS accounts_letter_queue_gone ON accounts;
CREATE TRIGGER accounts_letter_queue_gone AFTER DELETE ON accounts
  FOR EACH ROW WHEN (OLD.level = 'standard' AND OLD.confirm_method = 'mail')
  EXECUTE FUNCTION letter_queue_keep();

INSERT INTO letter_queue (account_id)
  SELECT id FROM accounts WHERE level = 'standard' AND confirm_method = 'mail' ORDER BY id
  ON CONFLICT DO NOTHING;
DROP INDEX IF EXISTS accounts_mail_idx;
ALTER TABLE accounts SET (fillfactor = 50);
