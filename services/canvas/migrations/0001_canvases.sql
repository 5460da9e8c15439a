CREATE TABLE canvas.canvases (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id    text NOT NULL,
    name        text NOT NULL,
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Serves "my canvases, newest first" pages by (created_at, id) cursor.
CREATE INDEX canvases_owner_newest ON canvas.canvases (owner_id, created_at DESC, id DESC);
