CREATE TABLE batch.batches (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id    text NOT NULL,
    canvas_id   text NOT NULL DEFAULT '',
    state       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX batches_owner_newest ON batch.batches (owner_id, created_at DESC, id DESC);

CREATE TABLE batch.jobs (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    batch_id     uuid NOT NULL REFERENCES batch.batches (id) ON DELETE CASCADE,
    position     integer NOT NULL,
    function     text NOT NULL,
    state        text NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    progress     integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    input        jsonb NOT NULL,
    output       jsonb,
    error        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at   timestamptz,
    finished_at  timestamptz,
    UNIQUE (batch_id, position)
);
