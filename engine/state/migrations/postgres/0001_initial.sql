-- specsync state, PostgreSQL. Runs inside the configured schema (search_path).

CREATE TABLE links (
    integration TEXT NOT NULL,
    sync        TEXT NOT NULL,
    source_key  TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    origin      TEXT NOT NULL CHECK (origin IN ('created', 'adopted', 'action', 'linked')),
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (integration, sync, source_key)
);

CREATE INDEX links_by_target ON links (integration, sync, target_id);

CREATE TABLE sync_state (
    integration TEXT NOT NULL,
    sync        TEXT NOT NULL,
    cursor      TEXT,
    fingerprint TEXT,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (integration, sync)
);

CREATE TABLE runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    integration TEXT NOT NULL,
    sync        TEXT NOT NULL,
    status      TEXT NOT NULL
                CHECK (status IN ('running', 'success', 'partial', 'failed', 'interrupted')),
    spec_hash   TEXT NOT NULL,
    git_commit  TEXT,
    trigger     TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    counts      JSONB NOT NULL DEFAULT '{}',
    error       TEXT
);

CREATE INDEX runs_by_sync ON runs (integration, sync, started_at);
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';

CREATE TABLE failures (
    integration TEXT NOT NULL,
    sync        TEXT NOT NULL,
    source_key  TEXT NOT NULL,
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 1,
    first_seen  TIMESTAMPTZ NOT NULL,
    last_seen   TIMESTAMPTZ NOT NULL,
    run_id      BIGINT REFERENCES runs (id) ON DELETE SET NULL,
    PRIMARY KEY (integration, sync, source_key)
);

CREATE INDEX failures_by_last_seen ON failures (last_seen);

CREATE TABLE inbox (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    payload     BYTEA NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    not_before  TIMESTAMPTZ,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'claimed', 'done')),
    claimed_by  TEXT,
    lease_until TIMESTAMPTZ,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    done_at     TIMESTAMPTZ,
    UNIQUE (source, event_id)
);

CREATE INDEX inbox_open ON inbox (received_at, id) WHERE status <> 'done';

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT,
    epoch      BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE actions (
    key        TEXT PRIMARY KEY,
    status     TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    result     JSONB,
    attempts   INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE meta (
    integration TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (integration, key)
);
