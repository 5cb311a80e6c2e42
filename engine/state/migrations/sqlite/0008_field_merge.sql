-- Two-way fields merged field by field (reliability.md S28): what each system record's
-- fields last agreed on with the other side (field -> hash of the value, JSON text;
-- never the values), and the conflicts: a field both sides changed, with both values
-- masked and the system that kept its own.

CREATE TABLE field_bases (
    integration TEXT NOT NULL,
    object      TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    hashes      TEXT NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (integration, object, record_id)
) WITHOUT ROWID;

CREATE TABLE conflicts (
    id           INTEGER PRIMARY KEY,
    integration  TEXT NOT NULL,
    sync         TEXT NOT NULL,
    source_key   TEXT NOT NULL,
    field        TEXT NOT NULL,
    source_value TEXT NOT NULL,
    target_value TEXT NOT NULL,
    winner       TEXT NOT NULL,
    policy       TEXT NOT NULL,
    at           REAL NOT NULL,
    run_id       INTEGER
);

CREATE INDEX conflicts_at ON conflicts (integration, at);
