-- The USD conversion, defined once. Until now the body of `budgets_usd` and
-- `contributions_usd` (join the month's rate, USD at 1, round to the cent) was written out
-- three times across 0002 and 0004. From here on:
--
--   exchange_rates -> monthly_rates  which rate converts which month (0002, unchanged; the
--                                    application's loader reads it too)
--                  -> usd_rates      the same, plus USD at 1
--                  -> to_usd()       one amount in USD: the conversion, once
--                  -> budgets_usd, contributions_usd: their table's rows that count, each
--                                    beside to_usd() of its amount
--
-- The results are the same, row for row and type for type (the views keep their columns,
-- so CREATE OR REPLACE). to_usd is a set-returning SQL function with a single SELECT and
-- no STRICT, SECURITY DEFINER or SET clause, so the planner inlines it: the views still
-- plan as one hash or merge join against the rates, never as a lookup per row. (A per-row
-- lookup is what 0002 replaced; keep it inlinable.)

-- USD converts at 1 in every month. It has no month rows of its own: one row under the
-- month key '-infinity', which to_usd looks up for USD amounts. rate_month stays NULL
-- for USD, as before.
CREATE VIEW usd_rates AS
SELECT currency, month, rate_month, usd_per_unit
  FROM monthly_rates
 UNION ALL
SELECT 'USD'::char(3), '-infinity'::date, NULL::date, 1::numeric;

-- An amount in `currency` dated `on_date`, in USD: the rate of its month (or of the latest
-- earlier month that has one), the rate itself, and the amount at that rate rounded to
-- the cent. No row when the currency has no rate for that month yet: callers LEFT JOIN
-- LATERAL it and report NULLs as unconverted.
CREATE FUNCTION to_usd(amount NUMERIC, currency CHAR(3), on_date DATE)
    RETURNS TABLE (rate_month DATE, usd_per_unit NUMERIC, amount_usd NUMERIC)
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT r.rate_month, r.usd_per_unit, round(to_usd.amount * r.usd_per_unit, 2)
  FROM usd_rates r
 WHERE r.currency = to_usd.currency
   AND r.month = CASE WHEN to_usd.currency = 'USD' THEN '-infinity'::date
                      ELSE date_trunc('month', to_usd.on_date)::date END
$$;

-- Archived money does not count (0004).
CREATE OR REPLACE VIEW budgets_usd AS
SELECT b.*, u.rate_month, u.usd_per_unit, u.amount_usd
  FROM budgets b
  LEFT JOIN LATERAL to_usd(b.amount, b.currency, b.as_of) u ON true
 WHERE b.archived_at IS NULL;

CREATE OR REPLACE VIEW contributions_usd AS
SELECT c.*, u.rate_month, u.usd_per_unit, u.amount_usd
  FROM contributions c
  LEFT JOIN LATERAL to_usd(c.amount, c.currency, c.as_of) u ON true
 WHERE c.archived_at IS NULL;

-- Indexes no query uses, each checked against every statement in src/. The dashboards
-- filter in memory (the loader reads whole tables); what SQL filters on stays indexed:
-- primary keys, foreign keys (items_parent_idx, budgets_item_idx, contributions_item_idx,
-- contributions_org_idx, item_places_place_idx, item_organisations_org_idx,
-- alignments_result_area_idx, sessions_user_idx), the audit trail's time order and its
-- entity and item filters (audit_log_at_idx, audit_log_entity_idx, audit_log_item_idx),
-- and the unique constraints.

-- kind has three values: too few to pick rows by; only the admin item list filters on it,
-- beside other filters, and reads most of the table either way.
DROP INDEX items_kind_idx;
-- status has five values; same as kind.
DROP INDEX items_status_idx;
-- a boolean (published), and no query filters on it but the admin list (see kind).
DROP INDEX items_published_idx;
-- three values (pledged, committed, paid), and no query filters contributions by status.
DROP INDEX contributions_status_idx;
-- two values (country, region), and no query filters places by kind.
DROP INDEX places_kind_idx;
-- no query looks up contributions by item and organisation together; by item alone,
-- contributions_item_idx serves.
DROP INDEX contributions_item_org_idx;
-- the one statement on expires_at, the sweep at sign-in, ORs it with last_seen_at, which
-- no index covers, so it scans the (small) table anyway; lookups go by id_hash.
DROP INDEX sessions_expires_idx;
-- no query filters the audit trail by actor_id, and users are never deleted, so the
-- foreign key never needs it either. The audit page's actor filter is on actor_email
-- (also set for failed sign-ins of unknown emails): that gets the index instead.
DROP INDEX audit_log_actor_idx;
CREATE INDEX audit_log_actor_email_idx ON audit_log (actor_email, at DESC);
