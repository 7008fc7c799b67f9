-- Delivery (issue 12): dates with the precision their source gives, and the milestones
-- and targets of each item.
--
-- A date with a precision is stored as two columns: the first day of its period and the
-- precision's name (domain::dates). "Q3 2008" is (2008-07-01, 'quarter'); "2008" is
-- (2008-01-01, 'year'). valid_partial_date() is the one check of the pair.

CREATE FUNCTION valid_partial_date(first_day date, prec text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE prec
        WHEN 'day' THEN true
        WHEN 'month' THEN extract(day FROM first_day) = 1
        WHEN 'quarter' THEN extract(day FROM first_day) = 1
                            AND extract(month FROM first_day) IN (1, 4, 7, 10)
        WHEN 'half' THEN extract(day FROM first_day) = 1
                         AND extract(month FROM first_day) IN (1, 7)
        WHEN 'year' THEN extract(doy FROM first_day) = 1
        WHEN 'biennium' THEN extract(doy FROM first_day) = 1
        ELSE false
    END
$$;

-- The last day of such a period (for sorting and "overdue").
CREATE FUNCTION partial_date_last_day(first_day date, prec text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE prec
        WHEN 'month' THEN first_day + interval '1 month' - interval '1 day'
        WHEN 'quarter' THEN first_day + interval '3 months' - interval '1 day'
        WHEN 'half' THEN first_day + interval '6 months' - interval '1 day'
        WHEN 'year' THEN first_day + interval '1 year' - interval '1 day'
        WHEN 'biennium' THEN first_day + interval '2 years' - interval '1 day'
        ELSE first_day
    END::date
$$;

-- Items' start and end: until now known to the day. Existing dates keep that meaning.
ALTER TABLE items
    ADD COLUMN start_precision TEXT NOT NULL DEFAULT 'day',
    ADD COLUMN end_precision TEXT NOT NULL DEFAULT 'day',
    ADD CONSTRAINT items_start_precision_check
        CHECK (start_date IS NULL OR valid_partial_date(start_date, start_precision)),
    ADD CONSTRAINT items_end_precision_check
        CHECK (end_date IS NULL OR valid_partial_date(end_date, end_precision));

CREATE TABLE milestones (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_id        BIGINT NOT NULL REFERENCES items (id),
    title          TEXT NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 300),
    due_on         DATE NOT NULL,
    due_precision  TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'planned'
                   CHECK (status IN ('planned', 'done', 'slipped', 'cancelled')),
    -- when it was done; only a done milestone has one (not every source dates it)
    done_on        DATE,
    done_precision TEXT,
    source_para    TEXT CHECK (length(source_para) <= 100),
    note           TEXT CHECK (length(note) <= 2000),
    seed_key       TEXT UNIQUE,
    version        INTEGER NOT NULL DEFAULT 1,
    archived_at    TIMESTAMPTZ,
    CONSTRAINT milestones_due_check CHECK (valid_partial_date(due_on, due_precision)),
    CONSTRAINT milestones_done_check CHECK (
        (done_on IS NULL AND done_precision IS NULL)
        OR (status = 'done' AND valid_partial_date(done_on, done_precision)))
);
CREATE INDEX milestones_item_idx ON milestones (item_id);
-- the overview's due / overdue lists and the timeline read milestones by due date
CREATE INDEX milestones_due_idx ON milestones (partial_date_last_day(due_on, due_precision))
    WHERE archived_at IS NULL;

-- What an item counts toward (countries reached, consultations held, …) and how many.
CREATE TABLE targets (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_id          BIGINT NOT NULL REFERENCES items (id),
    measure          TEXT NOT NULL CHECK (length(btrim(measure)) BETWEEN 1 AND 200),
    target_value     NUMERIC(18, 2) NOT NULL CHECK (target_value > 0),
    -- by when: optional, with its precision
    period_on        DATE,
    period_precision TEXT,
    source_para      TEXT CHECK (length(source_para) <= 100),
    note             TEXT CHECK (length(note) <= 2000),
    seed_key         TEXT UNIQUE,
    version          INTEGER NOT NULL DEFAULT 1,
    archived_at      TIMESTAMPTZ,
    CONSTRAINT targets_period_check CHECK (
        (period_on IS NULL AND period_precision IS NULL)
        OR valid_partial_date(period_on, period_precision))
);
CREATE INDEX targets_item_idx ON targets (item_id);

-- Progress toward a target, dated; the latest is the current value. Updates are never
-- edited (a correction is a new update), so the history stays as people recorded it.
CREATE TABLE target_updates (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- a target is archived, never deleted, by the application; the generator's removal
    -- of its synthetic portfolio deletes targets, and their progress goes with them
    target_id   BIGINT NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    value       NUMERIC(18, 2) NOT NULL CHECK (value >= 0),
    recorded_on DATE NOT NULL,
    note        TEXT CHECK (length(note) <= 2000),
    -- who recorded it (NULL for the seed and the command line, named in actor_email)
    actor_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    actor_email TEXT NOT NULL CHECK (length(actor_email) <= 300),
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    seed_key    TEXT UNIQUE
);
CREATE INDEX target_updates_target_idx ON target_updates (target_id, recorded_on, id);

-- The dashboards hold milestones and targets: their changes move the revision.
CREATE TRIGGER milestones_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON milestones
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();
CREATE TRIGGER targets_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON targets
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();
CREATE TRIGGER target_updates_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON target_updates
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();

-- An amount the source gives as a lower bound ("over 18 million euros"): shown as "more
-- than EUR 18,000,000". Not the same as approximate ("approximately US$ 19 million").
ALTER TABLE budgets ADD COLUMN lower_bound BOOLEAN NOT NULL DEFAULT false,
    ADD CONSTRAINT budgets_bound_check CHECK (NOT (lower_bound AND approximate));
ALTER TABLE contributions ADD COLUMN lower_bound BOOLEAN NOT NULL DEFAULT false,
    ADD CONSTRAINT contributions_bound_check CHECK (NOT (lower_bound AND approximate));
