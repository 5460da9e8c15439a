-- Which retry of its batch a job's state belongs to: 0 on the first run, one more each time a
-- retry of the batch puts the job back. Readers following the job's events order its states
-- by it (a state of a later retry is newer than any of an earlier one).
ALTER TABLE batch.jobs ADD COLUMN retry integer NOT NULL DEFAULT 0;
