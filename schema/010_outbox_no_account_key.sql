-- The outbox's foreign key to accounts goes too (007 kept it). Notices are
-- written only by enqueue_notices() (enqueue_notice() calls it), which
-- joins accounts, so a notice for no citizen cannot be written; accounts
-- are never deleted by esia-batch, and notify's claim joins accounts, so a
-- notice whose citizen was removed elsewhere is never sent. The key's check
-- (a KEY SHARE lock on the citizen's row per notice written) was a third of
-- the cost of writing a notice: 140,000 notices took 1.9 s with it and
-- 1.37 s without, and import writes 1.4 notices per promoted citizen.
-- Safe to run twice.
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_account_id_fkey;
