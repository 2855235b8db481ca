-- Archives: the chain position (1, 2, 3, ... in the order archives were
-- made; MANIFEST carries it so auditors can spot a missing link offline) and
-- when the originals were removed (NULL: a run died between recording the
-- archive and removing them; the next run finishes the removal).
-- Safe to run twice (migrate re-applies a missing version): the columns
-- are added once and a recorded position is never renumbered.
ALTER TABLE archives
  ADD COLUMN IF NOT EXISTS seq integer UNIQUE CHECK (seq > 0),
  ADD COLUMN IF NOT EXISTS cleaned_at timestamptz;
UPDATE archives a SET seq = n.rn FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM archives) n
 WHERE a.id = n.id AND a.seq IS NULL;
ALTER TABLE archives ALTER COLUMN seq SET NOT NULL;
