-- The activity page (/activity) for staff: every change to the portfolio, newest first.

-- Publishing and unpublishing an item are named as such in the audit trail, not as edits.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('create', 'update', 'archive', 'restore', 'delete', 'publish', 'unpublish',
                      'role_change', 'disable', 'enable', 'password_reset',
                      'login_success', 'login_failure', 'logout'));

-- The page leaves out sign-ins and accounts, which anyone can multiply by failing to sign
-- in: without these partial indexes, a flood of failed sign-ins would make every page
-- of changes (and every page of one person's changes) scan past them.
CREATE INDEX audit_log_changes_idx ON audit_log (at DESC, id DESC)
    WHERE entity NOT IN ('session', 'user');
CREATE INDEX audit_log_changes_actor_idx ON audit_log (actor_id, at DESC, id DESC)
    WHERE entity NOT IN ('session', 'user');
