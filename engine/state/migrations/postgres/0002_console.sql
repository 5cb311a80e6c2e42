-- The operator console: pause flags, acknowledged failures, the audit log, alert incidents.

ALTER TABLE failures ADD COLUMN acknowledged_by TEXT;
ALTER TABLE failures ADD COLUMN acknowledged_at TIMESTAMPTZ;

CREATE TABLE sync_controls (
    integration TEXT NOT NULL,
    sync        TEXT NOT NULL,
    paused      BOOLEAN NOT NULL DEFAULT FALSE,
    changed_by  TEXT NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL,
    reason      TEXT,
    PRIMARY KEY (integration, sync)
);

-- Append-only: the store offers no way to change or delete an entry.
CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
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
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key             TEXT NOT NULL,
    kind            TEXT NOT NULL,
    integration     TEXT NOT NULL,
    sync            TEXT NOT NULL,
    summary         TEXT NOT NULL,
    opened_at       TIMESTAMPTZ NOT NULL,
    cleared_at      TIMESTAMPTZ,
    open_sent_at    TIMESTAMPTZ,
    clear_sent_at   TIMESTAMPTZ,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT
);

-- One open incident per condition.
CREATE UNIQUE INDEX alert_open_key ON alert_incidents (key) WHERE cleared_at IS NULL;
CREATE INDEX alert_owed ON alert_incidents (next_attempt_at)
    WHERE open_sent_at IS NULL OR (cleared_at IS NOT NULL AND clear_sent_at IS NULL);
