-- export-checks: find the checks whose answer is overdue without walking
-- every sent check (checks_work_idx orders sent checks by id, not by when
-- they were sent). Used by the timeout pass and the "anything to do?" test
-- that every export run makes.
--
-- migrate re-applies a version missing from schema_version, also below
-- later ones: 003 dropped this index (in-flight checks are found through
-- packets.check_ids), so it is made only while that column does not exist.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'packets'::regclass
                 AND attname = 'check_ids' AND NOT attisdropped) THEN
    CREATE INDEX IF NOT EXISTS checks_sent_at_idx ON checks (agency, sent_at) WHERE state = 'sent';
  END IF;
END $$;
