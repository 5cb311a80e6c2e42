-- The operator console: pause flags, acknowledged failures, the audit log, alert incidents.

ALTER TABLE failures ADD COLUMN acknowledged_by TEXT;
ALTER TABLE failures ADD COLUMN acknowledged_at REAL;

CREATE TABLE sync_controls (
    integration TEXT NOT NULL,
    sync        TEXT NOT NULL,
    paused      INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    changed_by  TEXT NOT NULL,
    changed_at  REAL NOT NULL,
    reason      TEXT,
    PRIMARY KEY (integration, sync)
) WITHOUT ROWID;

-- Append-only: the store offers no way to change or delete an entry.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          REAL NOT NULL,
    actor       TEXT NOT NULL,
    role        TEXT NOT NULL,
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    integration TEXT,
    sync        TEXT,
    source_key  TEXT,
    detail      TEXT
);

CREATE INDEX audit_by_sync ON audit_log (integration, sync, at);

CREATE TABLE alert_incidents (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    key             TEXT NOT NULL,
    kind            TEXT NOT NULL,
    integration     TEXT NOT NULL,
    sync            TEXT NOT NULL,
    summary         TEXT NOT NULL,
    opened_at       REAL NOT NULL,
    cleared_at      REAL,
    open_sent_at    REAL,
    clear_sent_at   REAL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT
);

-- One open incident per condition.
CREATE UNIQUE INDEX alert_open_key ON alert_incidents (key) WHERE cleared_at IS NULL;
CREATE INDEX alert_owed ON alert_incidents (next_attempt_at)
    WHERE open_sent_at IS NULL OR (cleared_at IS NOT NULL AND clear_sent_at IS NULL);
