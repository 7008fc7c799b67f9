-- Sign-in hardening (issue 10): the throttle counts attempts per (address, client) and
-- reserves each one before the password is checked; failed sign-ins for unknown addresses
-- are counted per day rather than written to the audit trail one row each; an account
-- whose password an administrator set must change it at its first sign-in.

-- The throttle's rows are short-lived (a row means "attempts from this client at this
-- address in the last 15 minutes, or a lock that has not ended"), so the old ones are
-- simply dropped: at worst a lock in force during the upgrade is lifted.
DROP TABLE login_throttle;
CREATE TABLE login_throttle (
    -- the address as typed, normalised (trimmed, lowercased); need not be an account's
    email        TEXT NOT NULL CHECK (length(email) <= 254),
    -- who tried: the client's IP address as the server sees it (see TRUSTED_PROXIES)
    client       TEXT NOT NULL CHECK (length(client) <= 64),
    -- attempts reserved since the row was new or stale (the one that reaches the limit
    -- locks; the ones after it are refused without a password check)
    attempts     INTEGER NOT NULL CHECK (attempts >= 1),
    locked_until TIMESTAMPTZ,
    -- when the row means nothing any more: 15 minutes after the last attempt, or when its
    -- lock ends. Rows past it are swept (store::throttle::sweep), by this index.
    expires_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (email, client)
);
CREATE INDEX login_throttle_expires_idx ON login_throttle (expires_at);

-- Failed sign-ins for addresses no account has: one counter per day, so that a flood of
-- made-up addresses costs one row a day, not one audit row each.
CREATE TABLE login_failures_unknown (
    day      DATE PRIMARY KEY,
    failures BIGINT NOT NULL CHECK (failures >= 0)
);

ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT false;

ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('create', 'update', 'archive', 'restore', 'delete', 'publish', 'unpublish',
                      'role_change', 'disable', 'enable', 'password_reset', 'password_change',
                      'login_success', 'login_failure', 'logout'));
