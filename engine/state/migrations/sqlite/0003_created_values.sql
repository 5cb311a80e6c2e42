-- Fields a target sets at creation only: what was written when each record was created
-- (or adopted), and a later source change to them that could not be written ("held"),
-- so plan and status report it instead of dropping it silently. JSON text.

CREATE TABLE created_values (
    integration TEXT NOT NULL,
    sync        TEXT NOT NULL,
    source_key  TEXT NOT NULL,
    created     TEXT NOT NULL,
    held        TEXT,
    held_since  REAL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (integration, sync, source_key)
) WITHOUT ROWID;

CREATE INDEX created_values_held ON created_values (integration, sync) WHERE held IS NOT NULL;
