-- FAILED, CANCELLED or HELD → QUEUED, due now, with a fresh budget of max_attempts.
UPDATE jobs
SET state = 'QUEUED',
    run_at = now(),
    spent_attempts = 0,
    finished_at = NULL,
    result = NULL,
    updated_at = now(),
    version = version + 1
WHERE id = :id AND state IN ('FAILED', 'CANCELLED', 'HELD') AND (:owner::text IS NULL OR owner = :owner::text)
RETURNING *
