-- Hard deletes in the source (reliability.md S12): a full read marks each linked key it
-- lists with its sweep (the run that began the reconcile pass; a pass resumed after a
-- crash keeps its sweep). Once a pass has read everything, the active links it did not
-- mark, and that nothing wrote since it began, were deleted in the source.
ALTER TABLE links ADD COLUMN seen_sweep INTEGER;
-- The pass in progress (NULL: none) and the last one completed, with when each began.
ALTER TABLE sync_state ADD COLUMN sweep INTEGER;
ALTER TABLE sync_state ADD COLUMN sweep_started REAL;
ALTER TABLE sync_state ADD COLUMN swept INTEGER;
ALTER TABLE sync_state ADD COLUMN swept_started REAL;
ALTER TABLE sync_state ADD COLUMN swept_at REAL;
