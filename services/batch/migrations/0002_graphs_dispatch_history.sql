-- Idempotent submission and priority on batches.
ALTER TABLE batch.batches
    ADD COLUMN idempotency_key text,
    ADD COLUMN priority smallint NOT NULL DEFAULT 0,
    ADD COLUMN finished_at timestamptz;
CREATE UNIQUE INDEX batches_idempotency ON batch.batches (owner_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Job graphs, the dispatch outbox and the worker running a job.
ALTER TABLE batch.jobs
    ADD COLUMN key text NOT NULL DEFAULT '',
    ADD COLUMN depends_on uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN waiting_on integer NOT NULL DEFAULT 0,
    ADD COLUMN priority smallint NOT NULL DEFAULT 0,
    ADD COLUMN dispatches integer NOT NULL DEFAULT 0,
    ADD COLUMN dispatched_at timestamptz,
    ADD COLUMN not_before timestamptz,
    ADD COLUMN worker text NOT NULL DEFAULT '';

-- The dispatcher's queue: ready jobs not yet on their work subject, most urgent first.
CREATE INDEX jobs_to_dispatch ON batch.jobs (priority DESC, created_at, position)
    WHERE state = 'queued' AND dispatched_at IS NULL;
CREATE INDEX jobs_by_batch_state ON batch.jobs (batch_id, state);
CREATE INDEX jobs_depends_on ON batch.jobs USING gin (depends_on);
CREATE INDEX jobs_running ON batch.jobs (function, worker) WHERE state = 'running';

-- Every failed attempt of a job, kept as its dead-letter history.
-- (dispatch, attempt): a retried batch dispatches its jobs again, with fresh attempt numbers.
CREATE TABLE batch.job_attempts (
    job_id    uuid NOT NULL REFERENCES batch.jobs (id) ON DELETE CASCADE,
    dispatch  integer NOT NULL,
    attempt   integer NOT NULL,
    worker    text NOT NULL DEFAULT '',
    error     text NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (job_id, dispatch, attempt)
);

-- What the queue view and the dispatch window count: jobs not yet finished, by function.
CREATE INDEX jobs_active ON batch.jobs (function, state)
    WHERE state IN ('pending', 'queued', 'running');

-- The submitter's W3C trace context, so dispatching later still continues the user's trace.
ALTER TABLE batch.batches ADD COLUMN trace_parent text NOT NULL DEFAULT '';
