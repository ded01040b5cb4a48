-- The record of each attempt this statement ended, from the rows of a CTE `ended` (id, attempt, worker_id,
-- started_at, outcome, error) that the including statement defines before it. An attempt's row is written
-- once, when it ends (a running attempt is read from its job). ON CONFLICT: a row an older broker inserted
-- when it claimed the job.
INSERT INTO job_attempts AS a (job_id, attempt, worker_id, started_at, finished_at, outcome, error)
SELECT e.id, e.attempt, e.worker_id, e.started_at, now(), e.outcome, e.error
FROM ended e
ON CONFLICT (job_id, attempt) DO UPDATE
    SET finished_at = excluded.finished_at, outcome = excluded.outcome, error = excluded.error
