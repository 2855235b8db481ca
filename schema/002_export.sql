-- export-checks: find the checks whose answer is overdue without walking
-- every sent check (checks_work_idx orders sent checks by id, not by when
-- they were sent). Used by the timeout pass and the "anything to do?" test
-- that every export run makes.
CREATE INDEX IF NOT EXISTS checks_sent_at_idx ON checks (agency, sent_at) WHERE state = 'sent';
