-- A run with nothing to do records no batch (no ledger noise), so the
-- batches alone cannot tell a quiet day from a schedule that stopped.
-- job_runs keeps when each job (and scope) last ran to its end, with or
-- without work; the metrics file shows it as
-- esia_batch_last_run_timestamp_seconds. One row per job and scope.
--
-- Safe to run twice.
CREATE TABLE IF NOT EXISTS job_runs (
  job         text NOT NULL,
  scope       text NOT NULL DEFAULT '',
  last_run_at timestamptz NOT NULL,
  PRIMARY KEY (job, scope)
);
GRANT SELECT, INSERT, UPDATE ON job_runs TO esia_batch;
GRANT SELECT ON job_runs TO esia_auditor;
