-- Executions follow their batches through batch events (services/canvas/tracking.py).
ALTER TABLE canvas.executions
    -- job key -> its newest state heard: {"state", "progress", "output", "error", "retry"}
    ADD COLUMN jobs jsonb NOT NULL DEFAULT '{}',
    -- final state -> job count, as a batch summary the jobs disagreed with counted them; the
    -- reconciliation it asked for is skipped if the jobs agree by then
    ADD COLUMN expected jsonb,
    ADD COLUMN heard_at timestamptz,  -- the last job state that was news
    ADD COLUMN checked_at timestamptz,  -- the last reconciliation with batch
    ADD COLUMN due_at timestamptz;  -- when to reconcile with batch next, if asked for
CREATE INDEX executions_due ON canvas.executions (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX executions_quiet ON canvas.executions (GREATEST(heard_at, checked_at, created_at))
    WHERE NOT settled;
-- Executions recorded before are brought up to date by one reconciliation each.
UPDATE canvas.executions SET due_at = clock_timestamp() WHERE NOT settled;
