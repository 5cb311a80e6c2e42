-- The hash of the source record a link was last decided from (with the sync's
-- fingerprint): an unchanged source record is skipped without mapping it again.
ALTER TABLE links ADD COLUMN source_hash TEXT;
