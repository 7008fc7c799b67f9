-- Theme titles label the dashboards' groupings and filter menus, which are computed once
-- per portfolio revision: a theme edit must move the revision too.
CREATE TRIGGER themes_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON themes
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();
