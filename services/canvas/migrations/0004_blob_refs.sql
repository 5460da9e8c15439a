-- Which blobs a canvas references: any version's graph, or a result an execution of it made.
-- Whoever can read the canvas may read them (the canvas service's part of the record of who
-- may read a blob). Every string that is a blob address (lowercase hex SHA-256) counts; rows
-- are only added, as versions are.
CREATE TABLE canvas.blob_refs (
    blob       text NOT NULL,
    canvas_id  uuid NOT NULL REFERENCES canvas.canvases (id) ON DELETE CASCADE,
    PRIMARY KEY (blob, canvas_id)
);
CREATE INDEX blob_refs_by_canvas ON canvas.blob_refs (canvas_id);
INSERT INTO canvas.blob_refs (blob, canvas_id)
    SELECT DISTINCT found.blob, v.canvas_id
    FROM canvas.versions v
    CROSS JOIN LATERAL (
        SELECT s #>> '{}' AS blob
        FROM jsonb_path_query(v.graph, 'strict $.** ? (@.type() == "string")') AS s
    ) AS found
    WHERE found.blob ~ '^[0-9a-f]{64}$'
    ON CONFLICT DO NOTHING;
