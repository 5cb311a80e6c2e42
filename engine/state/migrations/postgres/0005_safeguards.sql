-- Safeguards (reliability.md S15, S27): circuit-breaker state per (system, endpoint), and
-- the write counts of two-way records with their quarantine.

CREATE TABLE circuit_breakers (
    integration TEXT NOT NULL,
    system      TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half-open')),
    failures    INTEGER NOT NULL DEFAULT 0,
    opened_at   TIMESTAMPTZ,
    retry_at    TIMESTAMPTZ,
    reason      TEXT,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (integration, system, endpoint)
);

-- One row per record of a two-way pair: its writes (both directions) since window_start.
CREATE TABLE record_writes (
    integration    TEXT NOT NULL,
    pair           TEXT NOT NULL,
    record         TEXT NOT NULL,
    window_start   TIMESTAMPTZ NOT NULL,
    writes         INTEGER NOT NULL,
    keys           TEXT NOT NULL DEFAULT '',
    quarantined_at TIMESTAMPTZ,
    PRIMARY KEY (integration, pair, record)
);

CREATE INDEX record_writes_quarantined ON record_writes (integration, quarantined_at)
    WHERE quarantined_at IS NOT NULL;
