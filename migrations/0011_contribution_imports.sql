-- Spreadsheet import of contributions (issue 11). An import saves every row of one file
-- in one transaction, or none: its record says who imported which file when, and each
-- contribution it created points back to it, so the import can be viewed later.

CREATE TABLE contribution_imports (
    id          BIGSERIAL PRIMARY KEY,
    imported_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- the account (NULL for the command line, whose actor is named in actor_email, as in
    -- audit_log); the address stays readable if the account goes
    actor_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    actor_email TEXT NOT NULL CHECK (length(actor_email) <= 300),
    file_name   TEXT NOT NULL CHECK (length(file_name) <= 300),
    row_count   INTEGER NOT NULL CHECK (row_count > 0)
);

ALTER TABLE contributions ADD COLUMN import_id BIGINT REFERENCES contribution_imports (id);
CREATE INDEX contributions_import_idx ON contributions (import_id) WHERE import_id IS NOT NULL;

-- A file uploaded on the web and not saved yet: the preview and the save both read it
-- from here (the browser sends back only its id, never the rows), so nothing the client
-- could alter between the two is trusted. Removed when saved; rows older than a day are
-- swept at the next upload.
CREATE TABLE contribution_import_uploads (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    file_name   TEXT NOT NULL CHECK (length(file_name) <= 300),
    content     BYTEA NOT NULL,
    uploaded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX contribution_import_uploads_at_idx ON contribution_import_uploads (uploaded_at);
