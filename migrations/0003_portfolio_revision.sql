-- A counter that changes whenever anything the funding figures depend on changes, so the
-- application can keep the computed portfolio in memory and reload it only when needed,
-- even with several application instances or edits made directly in SQL.

CREATE TABLE portfolio_revision (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    revision  BIGINT NOT NULL
);
INSERT INTO portfolio_revision (singleton, revision) VALUES (true, 1);

CREATE FUNCTION bump_portfolio_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE portfolio_revision SET revision = revision + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER items_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON items
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();
CREATE TRIGGER budgets_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON budgets
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();
CREATE TRIGGER contributions_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON contributions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();
CREATE TRIGGER exchange_rates_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON exchange_rates
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();
