-- Conversations, proposals and approvals: metadata only. What people and the model say, every command's
-- text and explanation, and every byte of output live only in the memory of the relay that holds the
-- conversation; here are ids, owners, states, sha256 digests and times.
CREATE TABLE conversations (
  id uuid PRIMARY KEY,
  org text NOT NULL,
  owner_issuer text NOT NULL,
  owner_id text NOT NULL,
  owner_name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz
);
CREATE INDEX conversations_org ON conversations (org, created_at);

-- An operator works for one conversation at a time: its id is the primary key.
CREATE TABLE conversation_operators (
  operator_id uuid PRIMARY KEY REFERENCES operator_slots (id) ON DELETE CASCADE,
  conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  bound_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_operators_conversation ON conversation_operators (conversation_id);

-- The runs a conversation started without approval (read-only, as their operator judged); approved runs are
-- found through their proposal's batch.
CREATE TABLE conversation_executions (
  execution_id uuid PRIMARY KEY,
  conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_executions_conversation ON conversation_executions (conversation_id);

-- A state change the model proposed, waiting for people. The command appears as its sha256 only. The
-- approvals it needs and whether a written reason is required are fixed when it is made, from the policy of
-- its targets' tags.
CREATE TABLE proposals (
  id uuid PRIMARY KEY,
  conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  org text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('command', 'write')),
  command_sha256 text NOT NULL,
  risk text NOT NULL CHECK (risk IN ('low', 'medium', 'high')),
  required_approvals integer NOT NULL CHECK (required_approvals BETWEEN 1 AND 3),
  reason_required boolean NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'withdrawn')),
  continue_on_failure boolean,
  batch_id uuid REFERENCES batches (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  decided_at timestamptz
);
CREATE INDEX proposals_pending ON proposals (expires_at) WHERE state = 'pending';
CREATE INDEX proposals_org ON proposals (org, created_at);

CREATE TABLE proposal_targets (
  proposal_id uuid NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
  position integer NOT NULL,
  operator_id uuid NOT NULL REFERENCES operator_slots (id) ON DELETE CASCADE,
  PRIMARY KEY (proposal_id, position),
  UNIQUE (proposal_id, operator_id)
);

-- One row per person who approved: the key refuses the same person twice.
CREATE TABLE proposal_approvals (
  proposal_id uuid NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
  approver_issuer text NOT NULL,
  approver_id text NOT NULL,
  approver_name text NOT NULL,
  approved_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (proposal_id, approver_issuer, approver_id)
);

-- Slots carry tags (production, staging...) that approval policies key on.
ALTER TABLE operator_slots ADD COLUMN tags text[] NOT NULL DEFAULT '{}';

-- An organisation's rule for operators with one tag: how many distinct people must approve, and whether each
-- must write a reason. A proposal takes the strictest rule of its targets' tags; without one, one approver.
CREATE TABLE approval_policies (
  org text NOT NULL,
  tag text NOT NULL,
  required_approvers integer NOT NULL CHECK (required_approvers BETWEEN 1 AND 3),
  require_reason boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org, tag)
);

-- The appliance's own audit trail: who did what, when, from where. Metadata only (ids, decisions, reasons
-- people wrote), never a command's output.
CREATE TABLE audit_events (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  org text NOT NULL,
  actor text NOT NULL,
  actor_name text NOT NULL,
  ip text,
  action text NOT NULL,
  subject text,
  details jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_org ON audit_events (org, at);
