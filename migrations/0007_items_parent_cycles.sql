-- Parent cycles are refused by the database itself. The admin form checks first and
-- shows a message beside the parent field, but two saves that each look fine alone can
-- close a loop together (A moved under B while B is moved under A). Every change of a
-- parent takes one transaction-level advisory lock, so such changes run one after the
-- other; each then walks its new parent's ancestors as committed (a new snapshot per
-- statement under READ COMMITTED) and refuses to become its own ancestor.

CREATE FUNCTION items_refuse_parent_cycle() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_id IS NULL THEN
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('items.parent_id'));
    IF EXISTS (
        WITH RECURSIVE above (id) AS (
            SELECT NEW.parent_id
            UNION
            SELECT i.parent_id FROM items i JOIN above a ON i.id = a.id
             WHERE i.parent_id IS NOT NULL)
        SELECT 1 FROM above WHERE id = NEW.id)
    THEN
        RAISE EXCEPTION 'item % cannot be placed under item %, which is part of it',
                        NEW.id, NEW.parent_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'items_parent_cycle';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER items_parent_cycle
    BEFORE INSERT OR UPDATE OF parent_id ON items
    FOR EACH ROW EXECUTE FUNCTION items_refuse_parent_cycle();
