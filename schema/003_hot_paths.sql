-- The two hot paths (export marks a million checks sent, import marks them
-- answered) were paying for six index entries per changed row. PostgreSQL
-- updates a row in place (a HOT update, no new index entries) only when no
-- indexed column, and no column in a partial index's WHERE, changes. So:
--
-- * The work queue is one partial index on a stored flag, `queued`
--   (state = 'pending'). Export takes a check off it (an update that must
--   touch the two remaining indexes); import's sent -> passed/failed leaves
--   `queued` false -> false and changes no indexed column, so it is HOT when
--   the page has room (fillfactor 60 leaves it).
-- * A request packet lists the checks it carries (packets.check_ids, in
--   file order, never changed), so in-flight checks are found through their
--   packets (timeouts, "is this request answered?") without an index on
--   checks.packet_id, state or sent_at.
-- * checks_account_idx repeated the leading column of the unique key;
--   accounts_level_idx served no query (print-letters uses accounts_mail_idx).
-- Measured on 200,000 checks: export 7.2 s -> 6.1 s; import's check update
-- 2.3 s -> 1.3 s. (A separate queue table kept by statement triggers made
-- every update HOT but cost more in the triggers than it saved.)
--
-- Every statement is safe to run twice (migrate re-applies a missing version),
-- also after later migrations: what they superseded is not brought back.
-- The fillfactor is set only where none is (011 lowers it to 45); the queue
-- flag and its index only while there is no check_queue table (009 replaced
-- them with it, and dropped them).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = 'checks'::regclass
                 AND array_to_string(reloptions, ',') LIKE '%fillfactor=%') THEN
    ALTER TABLE checks SET (fillfactor = 60);
  END IF;
  IF to_regclass('check_queue') IS NULL THEN
    ALTER TABLE checks ADD COLUMN IF NOT EXISTS queued boolean
      GENERATED ALWAYS AS (state = 'pending') STORED;
    CREATE INDEX IF NOT EXISTS checks_queue_idx ON checks (agency, id) WHERE queued;
  END IF;
END $$;

ALTER TABLE packets ADD COLUMN IF NOT EXISTS check_ids bigint[];
UPDATE packets p SET check_ids = g.ids
  FROM (SELECT packet_id, array_agg(id ORDER BY id) AS ids FROM checks
         WHERE packet_id IS NOT NULL GROUP BY packet_id) AS g
 WHERE p.id = g.packet_id AND p.direction = 'request' AND p.check_ids IS NULL;
-- a request whose checks all went out again elsewhere carries none now;
-- without the list a request would look answered at once and its checks
-- would never time out, so every request must have one
UPDATE packets SET check_ids = '{}' WHERE direction = 'request' AND check_ids IS NULL;
ALTER TABLE packets DROP CONSTRAINT IF EXISTS packets_request_check_ids,
  ADD CONSTRAINT packets_request_check_ids CHECK (direction <> 'request' OR check_ids IS NOT NULL);
CREATE INDEX IF NOT EXISTS packets_inflight_idx ON packets (agency, created_at)
  WHERE direction = 'request' AND status IN ('written', 'uploaded');

DROP INDEX IF EXISTS checks_work_idx;
DROP INDEX IF EXISTS checks_packet_idx;
DROP INDEX IF EXISTS checks_account_idx;
DROP INDEX IF EXISTS checks_sent_at_idx;
DROP INDEX IF EXISTS accounts_level_idx;
