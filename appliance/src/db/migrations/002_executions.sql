-- What the relay keeps of each command it carried: ids, hashes, sizes, exit codes. Never the output, never
-- the file content; the command itself only as its sha256 (the host's vault holds the text).
CREATE TABLE executions (
  id uuid PRIMARY KEY,
  operator_id uuid NOT NULL REFERENCES operator_slots (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('exec')),
  command_sha256 text NOT NULL,
  requested_by text NOT NULL,
  approved_by text,
  mode text CHECK (mode IN ('auto', 'approved')),
  state text NOT NULL CHECK (state IN ('sent', 'running', 'finished', 'refused', 'failed')),
  exit_code integer,
  signal text,
  stdout_bytes bigint,
  stderr_bytes bigint,
  output_sha256 text,
  model_bytes bigint,
  duration_ms double precision,
  chain_seq bigint,
  chain_hash text,
  error_code text,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX executions_operator ON executions (operator_id, created_at);

-- The operator's last reported vault chain head: a witness that reveals nothing about the events.
ALTER TABLE operator_slots ADD COLUMN witness_seq bigint, ADD COLUMN witness_hash text;
