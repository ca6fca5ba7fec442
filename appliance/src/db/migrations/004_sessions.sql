-- Console sign-in. A session row holds only the sha256 of the cookie's random id, the times its expiry needs,
-- and the session itself sealed with AES-256-GCM (key: session.key in the data dir). Who the user is, their
-- organisation, roles and CSRF token live only inside `sealed`.
CREATE TABLE console_sessions (
  id_hash bytea PRIMARY KEY,
  sealed bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at);

-- A sign-in on its way through the identity provider, keyed by the sha256 of its `state`; single use. The
-- PKCE verifier, the nonce and the hash of the browser's sign-in cookie are sealed like a session.
CREATE TABLE sign_in_flows (
  state_hash bytea PRIMARY KEY,
  sealed bytea NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX sign_in_flows_expires_at ON sign_in_flows (expires_at);

-- Accounts of the embedded identity provider (used only when no external issuer is configured). Passwords are
-- scrypt hashes (N=2^17, r=8, p=1).
CREATE TABLE local_users (
  id uuid PRIMARY KEY,
  username text NOT NULL UNIQUE,
  org text NOT NULL,
  roles text[] NOT NULL,
  password_hash text NOT NULL,
  must_change_password boolean NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  password_changed_at timestamptz
);
