-- What the embedded identity provider (oidc-provider) keeps between requests: interactions, its sign-in
-- sessions, grants, authorization codes, access tokens. One row per (model, id), so a restart or another
-- replica finishes a sign-in that was half-way. Expired rows are never read and go with the clean-up job.
CREATE TABLE oidc_provider_store (
  model text NOT NULL,
  id text NOT NULL,
  payload jsonb NOT NULL,
  -- Copied out of the payload for the lookups the provider makes: tokens of a grant, a session by its uid,
  -- a device code by its user code.
  grant_id text,
  uid text,
  user_code text,
  expires_at timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_provider_store_grant ON oidc_provider_store (model, grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_provider_store_uid ON oidc_provider_store (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_provider_store_user_code ON oidc_provider_store (model, user_code) WHERE user_code IS NOT NULL;
CREATE INDEX oidc_provider_store_expires_at ON oidc_provider_store (expires_at);
