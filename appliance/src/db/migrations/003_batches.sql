-- An approved batch: one human approval of one command for several operators, run one host after another.
-- The command text is kept only while the batch is unfinished (a relay that restarts must be able to send
-- the remaining steps) and is erased when it ends; afterwards only its sha256 remains, as for executions.
CREATE TABLE batches (
  id uuid PRIMARY KEY,
  command text,
  command_sha256 text NOT NULL,
  timeout_ms integer,
  continue_on_failure boolean NOT NULL,
  requested_by text NOT NULL,
  approved_by text NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  cancel_requested boolean NOT NULL DEFAULT false,
  error_code text,
  error_message text,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  CHECK (command IS NOT NULL OR status IN ('succeeded', 'failed', 'cancelled'))
);
CREATE INDEX batches_unfinished ON batches (created_at) WHERE status IN ('queued', 'running');

-- One step per operator, in the order given. The execution id is allocated and written here (state 'sent')
-- before the request leaves the relay, so a restarted relay knows which steps may have reached their host.
CREATE TABLE batch_steps (
  batch_id uuid NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  position integer NOT NULL,
  operator_id uuid NOT NULL REFERENCES operator_slots (id) ON DELETE CASCADE,
  state text NOT NULL CHECK (state IN ('pending', 'sent', 'succeeded', 'failed', 'unknown', 'skipped')),
  execution_id uuid UNIQUE,
  -- The operator's vault head as the relay last knew it when the step was sent: where a search of the
  -- host's history for this run starts.
  history_after_seq bigint,
  exit_code integer,
  signal text,
  error_code text,
  error_message text,
  -- How the outcome became known: 'live' (the result came in), 'vault' (read from the host's history
  -- after a restart), or NULL (no outcome, or none needed).
  resolved_from text CHECK (resolved_from IN ('live', 'vault')),
  sent_at timestamptz,
  finished_at timestamptz,
  PRIMARY KEY (batch_id, position)
);
CREATE INDEX batch_steps_operator ON batch_steps (operator_id);

-- The certificate-expiry sweep's finding for each slot: its newest unrevoked certificate and whether the
-- operator is overdue to renew it ('expiring': under a third of its lifetime left; operators renew at two
-- thirds) or has let it lapse ('expired').
ALTER TABLE operator_slots
  ADD COLUMN certificate_state text CHECK (certificate_state IN ('valid', 'expiring', 'expired')),
  ADD COLUMN certificate_not_after timestamptz,
  ADD COLUMN certificate_checked_at timestamptz;
