-- Replay: what runs of syncs that opt in (`replay:` in the spec) read, and what each
-- record became. Personal identity numbers are masked before a row is written.

CREATE TABLE recorded_reads (
    run_id      BIGINT NOT NULL,
    integration TEXT NOT NULL,
    sync        TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    source_key  TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    record      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE INDEX recorded_reads_by_sync ON recorded_reads (integration, sync, run_id);
