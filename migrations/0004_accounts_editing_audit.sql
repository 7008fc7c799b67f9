-- Accounts, sessions, sign-in throttling, publication state, soft delete, versions for
-- optimistic locking, and the append-only audit trail.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT NOT NULL CHECK (email = lower(btrim(email)) AND email ~ '^[^@\s]+@[^@\s]+$'),
    display_name  TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'staff', 'admin')),
    disabled_at   TIMESTAMPTZ,
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email)
);

-- The cookie holds a random token; only its SHA-256 is stored, so a leaked table does not
-- leak sessions.
CREATE TABLE sessions (
    id_hash      BYTEA PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Failed sign-ins per email address (known or not, so the lock reveals nothing).
CREATE TABLE login_throttle (
    email        TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ
);

ALTER TABLE items
    ADD COLUMN published      BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN internal_notes TEXT NOT NULL DEFAULT '',
    ADD COLUMN archived_at    TIMESTAMPTZ;
-- The report is public: what was seeded before publication existed is published.
UPDATE items SET published = true;
CREATE INDEX items_published_idx ON items (published) WHERE archived_at IS NULL;

ALTER TABLE budgets       ADD COLUMN archived_at TIMESTAMPTZ;
ALTER TABLE contributions ADD COLUMN archived_at TIMESTAMPTZ;
ALTER TABLE organisations ADD COLUMN archived_at TIMESTAMPTZ,
                          ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE result_areas  ADD COLUMN archived_at TIMESTAMPTZ,
                          ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE themes        ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- Archived money no longer counts. The views gain the new column, so they are recreated.
DROP VIEW budgets_usd;
DROP VIEW contributions_usd;

CREATE VIEW budgets_usd AS
SELECT b.*,
       mr.rate_month,
       CASE WHEN b.currency = 'USD' THEN 1 ELSE mr.usd_per_unit END AS usd_per_unit,
       round(b.amount * CASE WHEN b.currency = 'USD' THEN 1 ELSE mr.usd_per_unit END, 2) AS amount_usd
  FROM budgets b
  LEFT JOIN monthly_rates mr
    ON mr.currency = b.currency AND mr.month = date_trunc('month', b.as_of)::date
 WHERE b.archived_at IS NULL;

CREATE VIEW contributions_usd AS
SELECT c.*,
       mr.rate_month,
       CASE WHEN c.currency = 'USD' THEN 1 ELSE mr.usd_per_unit END AS usd_per_unit,
       round(c.amount * CASE WHEN c.currency = 'USD' THEN 1 ELSE mr.usd_per_unit END, 2) AS amount_usd
  FROM contributions c
  LEFT JOIN monthly_rates mr
    ON mr.currency = c.currency AND mr.month = date_trunc('month', c.as_of)::date
 WHERE c.archived_at IS NULL;

-- Alignment edits change the dashboards too.
CREATE TRIGGER alignments_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alignments
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();

CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_id    BIGINT REFERENCES users (id),
    actor_email TEXT,            -- kept as written, also for failed sign-ins of unknown emails
    action      TEXT NOT NULL CHECK (action IN ('create', 'update', 'archive', 'restore', 'delete',
                                                'role_change', 'disable', 'enable', 'password_reset',
                                                'login_success', 'login_failure', 'logout')),
    entity      TEXT NOT NULL,   -- 'item', 'budget', 'contribution', 'organisation', ...
    entity_id   BIGINT,
    item_id     BIGINT,          -- the portfolio item a change belongs to, for its History tab
    summary     TEXT NOT NULL DEFAULT '',
    before      JSONB,
    after       JSONB
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at DESC);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, at DESC);
CREATE INDEX audit_log_item_idx ON audit_log (item_id, at DESC) WHERE item_id IS NOT NULL;

-- Append-only: history cannot be rewritten by the application, whatever its role.
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
