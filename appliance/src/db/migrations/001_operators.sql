-- Metadata only: slots, certificate serials and nonces. No command output or secret ever lands here;
-- API keys are stored as scrypt hashes.
CREATE TABLE operator_slots (
  id uuid PRIMARY KEY,
  org text NOT NULL,
  name text NOT NULL,
  api_key_hash text,
  fingerprint text,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz,
  UNIQUE (org, name)
);

CREATE TABLE operator_certificates (
  serial text PRIMARY KEY,
  operator_id uuid NOT NULL REFERENCES operator_slots (id) ON DELETE CASCADE,
  fingerprint text NOT NULL,
  not_after timestamptz NOT NULL,
  issued_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX operator_certificates_operator ON operator_certificates (operator_id);

CREATE TABLE request_nonces (
  nonce text PRIMARY KEY,
  seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX request_nonces_seen_at ON request_nonces (seen_at);
