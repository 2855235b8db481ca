-- `status` and `rerun` count a failed batch as settled when a later batch
-- of its rerun tree succeeded (a rerun of it, or of the batch it reran:
-- 3 failed, 4 rerun of 3 failed, 5 rerun of 3 succeeded settles 3 and 4).
-- Walking the tree down from an ancestor finds the reruns of a batch; the
-- ledger grows by every cron run, so that look-up has an index. Only
-- reruns are in it.
--
-- Safe to run twice.
CREATE INDEX IF NOT EXISTS batches_rerun_of_idx ON batches (rerun_of) WHERE rerun_of IS NOT NULL;
