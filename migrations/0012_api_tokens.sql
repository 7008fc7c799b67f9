-- Personal API tokens (issue 11): a signed-in person creates tokens for scripts on their
-- account page. Only the SHA-256 of a token is stored (as for sessions), so a leaked
-- table does not leak tokens; the short prefix lets the person tell their tokens apart.
-- A token never grants more than its owner's current role (web::auth reads the role from
-- users at each use); can_write only lets an admin's token use the API's writes.
CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    token_hash   BYTEA NOT NULL CHECK (octet_length(token_hash) = 32),
    prefix       TEXT NOT NULL CHECK (length(prefix) <= 16),
    can_write    BOOLEAN NOT NULL DEFAULT false,
    expires_at   TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- touched at most once a minute (store::tokens::lookup), not once per request
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    CONSTRAINT api_tokens_hash_key UNIQUE (token_hash)
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, created_at DESC);

-- A write made with a token is audited under its person, naming the token it used.
ALTER TABLE audit_log ADD COLUMN api_token_id BIGINT REFERENCES api_tokens (id);
