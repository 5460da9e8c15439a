-- Whose jobs produced which blob: the batch service's part of the record of who may read a
-- blob. A job's output names its blobs under many members, so every string in it that is a
-- blob address (lowercase hex SHA-256) counts. Rows are only added: what a user's job made
-- stays theirs.
CREATE TABLE batch.job_blobs (
    blob      text NOT NULL,
    owner_id  text NOT NULL,
    PRIMARY KEY (blob, owner_id)
);
INSERT INTO batch.job_blobs (blob, owner_id)
    SELECT DISTINCT found.blob, b.owner_id
    FROM batch.jobs j
    JOIN batch.batches b ON b.id = j.batch_id
    CROSS JOIN LATERAL (
        SELECT s #>> '{}' AS blob
        FROM jsonb_path_query(j.output, 'strict $.** ? (@.type() == "string")') AS s
    ) AS found
    WHERE j.output IS NOT NULL AND found.blob ~ '^[0-9a-f]{64}$'
    ON CONFLICT DO NOTHING;
