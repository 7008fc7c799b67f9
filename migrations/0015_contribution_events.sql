-- Contributions as dated events (issue 12). A contribution's life is a series of events:
-- pledged, committed, paid (possibly in several payments), reduced, cancelled; each with
-- an amount in the contribution's currency (none for a cancellation), a date with its
-- precision (domain::dates) and a source. The contribution's amount and status are what
-- its events add up to (domain::contribution_events), kept on the row so that every
-- reader of the current portfolio reads them as before; "as at" a past date reads the
-- events. Events are never edited: a correction is a new event (a reduction, say), so the
-- history stays as it was recorded.

ALTER TABLE contributions DROP CONSTRAINT contributions_status_check,
    ADD CONSTRAINT contributions_status_check
        CHECK (status IN ('pledged', 'committed', 'paid', 'cancelled'));

CREATE TABLE contribution_events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- the application archives contributions, never deletes them; the generator's
    -- removal of its synthetic portfolio deletes them, and their events go with them
    contribution_id BIGINT NOT NULL REFERENCES contributions (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL
                    CHECK (kind IN ('pledged', 'committed', 'paid', 'reduced', 'cancelled')),
    amount          NUMERIC(18, 2) CHECK (amount >= 0),
    on_date         DATE NOT NULL,
    on_precision    TEXT NOT NULL DEFAULT 'day',
    source          TEXT CHECK (length(source) <= 300),
    note            TEXT CHECK (length(note) <= 2000),
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT contribution_events_date_check CHECK (valid_partial_date(on_date, on_precision)),
    -- a cancellation cancels what is not paid; every other event has an amount
    CONSTRAINT contribution_events_cancelled_check CHECK ((kind = 'cancelled') = (amount IS NULL))
);
-- a contribution's events in order (the item page, every save)
CREATE INDEX contribution_events_contribution_idx
    ON contribution_events (contribution_id, on_date, id);
-- /changes picks events by the day they are known to have happened by
CREATE INDEX contribution_events_known_idx
    ON contribution_events (partial_date_last_day(on_date, on_precision));

-- Every contribution so far becomes one event: its status, for its amount, on the date
-- its figure applies to (as_of, which also picked its exchange rate, so its USD value
-- stays the same). Its source paragraph is the event's source.
INSERT INTO contribution_events (contribution_id, kind, amount, on_date, on_precision, source, note)
SELECT id, status, amount, as_of, 'day', source_para,
       'the contribution as recorded before its events were kept'
  FROM contributions
 ORDER BY id;

-- A new contribution opens with one event: its status, for its amount, on its as_of date.
-- Whatever inserts it (a form, the API, a spreadsheet import, the seed, the generator)
-- gets the same event, here, once. A restore of an export (`portfolio-tracker import`)
-- loads the exported events instead, and says so with `portfolio.restoring`.
CREATE FUNCTION contributions_opening_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('portfolio.restoring', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO contribution_events (contribution_id, kind, amount, on_date, on_precision, source)
    SELECT id, CASE WHEN status = 'cancelled' THEN 'pledged' ELSE status END, amount, as_of,
           'day', source_para
      FROM added
     ORDER BY id;
    RETURN NULL;
END
$$;
CREATE TRIGGER contributions_opening_event AFTER INSERT ON contributions
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION contributions_opening_event();

-- The dashboards read the events ("as at" a date): their changes move the revision.
CREATE TRIGGER contribution_events_bump_revision
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON contribution_events
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();
