-- Core schema: accounts, checks, the batch ledger, packets, letters and
-- codes, the notification outbox, archives, the audit trail.
-- Applied by `esia-batch migrate` inside one transaction.

-- Roles are cluster-wide: create them once, grant per database. Two databases
-- migrating at once may race to create them; the loser just carries on.
DO $$
BEGIN
  BEGIN
    CREATE ROLE esia_batch NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END;
  BEGIN
    CREATE ROLE esia_auditor NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END;
END $$;

CREATE TABLE accounts (
  id                   bigserial PRIMARY KEY,
  level                text NOT NULL DEFAULT 'simplified'
                       CHECK (level IN ('simplified', 'standard', 'confirmed')),
  family_name          text NOT NULL CHECK (length(family_name) BETWEEN 1 AND 100),
  first_name           text NOT NULL CHECK (length(first_name) BETWEEN 1 AND 100),
  patronymic           text CHECK (length(patronymic) <= 100),
  gender               char(1) CHECK (gender IN ('M', 'F')),
  birth_date           date CHECK (birth_date > '1900-01-01'),
  snils                char(11) CHECK (snils ~ '^[0-9]{11}$'),
  passport_series      char(4) CHECK (passport_series ~ '^[0-9]{4}$'),
  passport_number      char(6) CHECK (passport_number ~ '^[0-9]{6}$'),
  passport_issue_date  date,
  passport_issuer_code char(7) CHECK (passport_issuer_code ~ '^[0-9]{3}-[0-9]{3}$'),
  email                text CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  phone                text CHECK (phone ~ '^\+79[0-9]{9}$'),
  -- postal address for letters
  postal_index         char(6) CHECK (postal_index ~ '^[1-9][0-9]{5}$'),
  region               text,
  district             text,
  locality             text,
  street               text,
  house                text,
  flat                 text,
  confirm_method       text CHECK (confirm_method IN ('mail', 'service_centre', 'esignature')),
  -- bumped on every edit of personal data; an answer to an older version is stale
  data_version         integer NOT NULL DEFAULT 1 CHECK (data_version > 0),
  data_status          text NOT NULL DEFAULT 'none'
                       CHECK (data_status IN ('none', 'pending', 'verified', 'rejected')),
  data_reject_reason   text,
  address_problem      text,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  CHECK (email IS NOT NULL OR phone IS NOT NULL),
  CHECK (level = 'simplified' OR (snils IS NOT NULL AND passport_number IS NOT NULL))
);
CREATE INDEX accounts_level_idx ON accounts (level);
CREATE INDEX accounts_mail_idx ON accounts (id)
  WHERE level = 'standard' AND confirm_method = 'mail';

-- One row per job run.
CREATE TABLE batches (
  id          bigserial PRIMARY KEY,
  job         text NOT NULL CHECK (job ~ '^[a-z][a-z-]*$'),
  scope       text NOT NULL DEFAULT '',  -- e.g. the agency; metrics are per job and scope
  params      jsonb NOT NULL DEFAULT '{}',
  status      text NOT NULL DEFAULT 'running'
              CHECK (status IN ('running', 'succeeded', 'failed', 'partial', 'abandoned')),
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  host        text,
  pid         integer,
  records     bigint NOT NULL DEFAULT 0 CHECK (records >= 0),
  rejected    bigint NOT NULL DEFAULT 0 CHECK (rejected >= 0),
  error       text,
  rerun_of    bigint REFERENCES batches (id),
  CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX batches_job_idx ON batches (job, id DESC);
CREATE INDEX batches_running_idx ON batches (id) WHERE status = 'running';

-- Request packets we wrote and response packets we read.
CREATE TABLE packets (
  id          uuid PRIMARY KEY,
  direction   text NOT NULL CHECK (direction IN ('request', 'response')),
  agency      text NOT NULL CHECK (agency IN ('pfr', 'fms')),
  batch_id    bigint NOT NULL REFERENCES batches (id),
  file_name   text NOT NULL,
  sha256      char(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  records     integer NOT NULL CHECK (records >= 0),
  bytes       bigint NOT NULL CHECK (bytes >= 0),
  in_reply_to uuid REFERENCES packets (id),
  status      text NOT NULL
              CHECK (status IN ('written', 'uploaded', 'answered', 'superseded',
                                'applied', 'rejected', 'duplicate')),
  reason      text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK ((direction = 'response') = (in_reply_to IS NOT NULL) OR status = 'rejected')
);
CREATE INDEX packets_batch_idx ON packets (batch_id);
CREATE INDEX packets_reply_idx ON packets (in_reply_to);

-- One personal-data check per account, agency and data version.
CREATE TABLE checks (
  id           bigserial PRIMARY KEY,
  account_id   bigint NOT NULL REFERENCES accounts (id),
  agency       text NOT NULL CHECK (agency IN ('pfr', 'fms')),
  data_version integer NOT NULL,
  state        text NOT NULL DEFAULT 'pending'
               CHECK (state IN ('pending', 'sent', 'passed', 'failed', 'error', 'superseded')),
  attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  packet_id    uuid REFERENCES packets (id),
  sent_at      timestamptz,
  answered_at  timestamptz,
  result       text CHECK (result IN ('match', 'mismatch', 'not_found', 'valid', 'invalid',
                                      'local_invalid', 'timeout')),
  reason       text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (account_id, agency, data_version),
  CHECK (state <> 'sent' OR packet_id IS NOT NULL)
);
CREATE INDEX checks_work_idx ON checks (agency, state, id) WHERE state IN ('pending', 'sent');
CREATE INDEX checks_packet_idx ON checks (packet_id);
CREATE INDEX checks_account_idx ON checks (account_id);

-- Tracking numbers (ШПИ) are burned once, whatever happens to the letter.
CREATE TABLE tracking_numbers (
  barcode   char(14) PRIMARY KEY CHECK (barcode ~ '^[0-9]{14}$'),
  batch_id  bigint REFERENCES batches (id),
  burned_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE letters (
  id         bigserial PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts (id),
  batch_id   bigint NOT NULL REFERENCES batches (id),
  barcode    char(14) NOT NULL UNIQUE REFERENCES tracking_numbers (barcode),
  page       integer NOT NULL CHECK (page > 0),
  status     text NOT NULL DEFAULT 'printed'
             CHECK (status IN ('printed', 'posted', 'delivered', 'returned', 'revoked')),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX letters_account_idx ON letters (account_id);
CREATE INDEX letters_batch_idx ON letters (batch_id);

-- Activation codes: only an HMAC-SHA256 of the code is ever stored.
CREATE TABLE activation_codes (
  id         bigserial PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts (id),
  letter_id  bigint NOT NULL REFERENCES letters (id),
  code_hmac  bytea NOT NULL CHECK (length(code_hmac) = 32),
  status     text NOT NULL DEFAULT 'live'
             CHECK (status IN ('live', 'used', 'revoked', 'blocked', 'expired')),
  attempts   integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  used_at    timestamptz
);
CREATE UNIQUE INDEX activation_codes_one_live ON activation_codes (account_id)
  WHERE status = 'live';

-- The notification outbox. event_key makes an event enqueue a notice once.
CREATE TABLE notifications (
  id              bigserial PRIMARY KEY,
  account_id      bigint NOT NULL REFERENCES accounts (id),
  event           text NOT NULL CHECK (event IN ('check_passed', 'check_failed', 'letter_sent',
                                                 'account_confirmed', 'code_expiring')),
  event_key       text NOT NULL,
  channel         text NOT NULL CHECK (channel IN ('email', 'sms')),
  payload         jsonb NOT NULL DEFAULT '{}',
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  batch_id        bigint REFERENCES batches (id),
  sent_batch_id   bigint REFERENCES batches (id),
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz,
  UNIQUE (event_key, channel)
);
CREATE INDEX notifications_due_idx ON notifications (channel, next_attempt_at)
  WHERE status = 'pending';

-- The one way to enqueue a notice: a row per channel the citizen has, at
-- most once per (event_key, channel). Call it in the transaction that records
-- the event, per row or set-based (SELECT enqueue_notice(...) FROM ...).
CREATE FUNCTION enqueue_notice(p_account bigint, p_event text, p_event_key text,
                               p_payload jsonb, p_batch bigint) RETURNS integer
LANGUAGE sql AS $$
  WITH ins AS (
    INSERT INTO notifications (account_id, event, event_key, channel, payload, batch_id)
    SELECT a.id, p_event, p_event_key, ch.channel, coalesce(p_payload, '{}'), p_batch
      FROM accounts a
      CROSS JOIN LATERAL (VALUES ('email', a.email), ('sms', a.phone)) AS ch (channel, addr)
     WHERE a.id = p_account AND ch.addr IS NOT NULL
    ON CONFLICT (event_key, channel) DO NOTHING
    RETURNING 1)
  SELECT count(*)::integer FROM ins
$$;

CREATE TABLE archives (
  id          bigserial PRIMARY KEY,
  batch_id    bigint NOT NULL UNIQUE REFERENCES batches (id),
  path        text NOT NULL UNIQUE,
  sha256      char(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  prev_sha256 char(64) CHECK (prev_sha256 ~ '^[0-9a-f]{64}$'),
  files       integer NOT NULL CHECK (files >= 0),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Append-only trail of what happened to accounts and batches.
CREATE TABLE audit_events (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  event      text NOT NULL,
  account_id bigint REFERENCES accounts (id),
  batch_id   bigint REFERENCES batches (id),
  details    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_account_idx ON audit_events (account_id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END $$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- The batch runner reads and writes; the auditor only reads.
GRANT USAGE ON SCHEMA public TO esia_batch, esia_auditor;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO esia_batch;
REVOKE UPDATE, DELETE ON audit_events FROM esia_batch;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO esia_batch;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO esia_auditor;
