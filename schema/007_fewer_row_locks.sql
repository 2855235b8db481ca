-- Foreign keys that cost more than they protect, on the rows written once per
-- check or per event (a million of each per bench run). A foreign key check
-- takes a KEY SHARE lock on the referenced row for every row written:
--
-- * checks.packet_id: export sets it on a thousand checks per packet, each
--   check locking the packet row just inserted: 4.3 us a check, 28% of the
--   statement that marks checks sent. The request packet's check_ids (kept
--   by a CHECK constraint since 003) is the list of its checks; packets are
--   never deleted.
-- * audit_events.account_id and .batch_id: the trail must outlive what it
--   records. Removing an account must neither be blocked by its history nor
--   erase it; the ids stay as plain numbers.
-- * notifications.batch_id and .sent_batch_id: provenance only. Batches are
--   never deleted (the ledger, archives and audit refer to them), and every
--   writer sets its own running batch. All import workers reference one
--   batches row, so these locks became multixacts that every later check had
--   to read back: with two workers, 200,000 answers took 7.0 s with the keys
--   and 5.6 s without.
--
-- notifications.account_id stays: a notice for no citizen is a bug.
-- Every statement is safe to run twice.
ALTER TABLE checks DROP CONSTRAINT IF EXISTS checks_packet_id_fkey;
ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS audit_events_account_id_fkey;
ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS audit_events_batch_id_fkey;
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_batch_id_fkey;
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_sent_batch_id_fkey;
