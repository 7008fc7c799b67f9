-- The dashboards also group and filter by result area, theme, organisation and place, and
-- the cached portfolio holds those facets: every table they come from bumps the revision.
CREATE TRIGGER item_places_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON item_places
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();
CREATE TRIGGER item_organisations_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON item_organisations
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();
CREATE TRIGGER organisations_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON organisations
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();
CREATE TRIGGER result_areas_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON result_areas
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();
CREATE TRIGGER places_bump_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON places
    FOR EACH STATEMENT EXECUTE FUNCTION bump_portfolio_revision();

-- Search by title, summary, organisation and country: trigram indexes are not available
-- without an extension, so searches use ILIKE on these small text columns; these indexes
-- serve the exact-match lookups the dashboards make.
CREATE INDEX places_kind_idx ON places (kind);
CREATE INDEX contributions_item_org_idx ON contributions (item_id, org_id) WHERE archived_at IS NULL;
