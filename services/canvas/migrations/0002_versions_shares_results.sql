-- Every save is a version; canvases.version is the newest one's number.
CREATE TABLE canvas.versions (
    canvas_id   uuid NOT NULL REFERENCES canvas.canvases (id) ON DELETE CASCADE,
    number      integer NOT NULL,
    parent      integer NOT NULL DEFAULT 0,
    author_id   text NOT NULL,
    message     text NOT NULL DEFAULT '',
    autosave    boolean NOT NULL DEFAULT false,
    graph       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (canvas_id, number)  -- also serves "newest first" pages, read backwards
);
INSERT INTO canvas.versions (canvas_id, number, author_id, message, graph, created_at)
    SELECT id, version, owner_id, 'Created', '{"nodes": [], "edges": []}', created_at
    FROM canvas.canvases;

-- Other users a canvas is shared with.
CREATE TABLE canvas.shares (
    canvas_id   uuid NOT NULL REFERENCES canvas.canvases (id) ON DELETE CASCADE,
    user_id     text NOT NULL,
    access      text NOT NULL CHECK (access IN ('read', 'write')),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (canvas_id, user_id)
);
CREATE INDEX shares_by_user ON canvas.shares (user_id, canvas_id);

-- What a node made, by its key (the hash of its type, properties and inputs' keys): the same
-- node in any version or canvas reuses it.
CREATE TABLE canvas.node_results (
    key         text PRIMARY KEY,
    output      jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- One Execute: which batch job makes which node's result.
CREATE TABLE canvas.executions (
    batch_id    uuid PRIMARY KEY,
    canvas_id   uuid NOT NULL REFERENCES canvas.canvases (id) ON DELETE CASCADE,
    version     integer NOT NULL,
    user_id     text NOT NULL,
    nodes       jsonb NOT NULL,  -- node id -> {"key": node key, "jobs": [batch job keys]}
    settled     boolean NOT NULL DEFAULT false,  -- every job final, every result kept
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX executions_unsettled ON canvas.executions (canvas_id, created_at) WHERE NOT settled;
