-- Jobwire schema, version 5: a successful attempt is read from its job, not written twice.

-- A job that succeeded never runs again, and its row keeps that last attempt's number, worker, start
-- and finish. Completion (the hottest write there is) therefore adds no job_attempts row: it was a
-- third of the statement's work. job_attempts keeps every attempt that ended any other way; this view
-- is the whole history: those rows, plus the attempt a RUNNING or SUCCEEDED job holds.
-- Rows with outcome 'running' were written at claim by brokers of schema version 3 and before; the attempt they
-- describe is read from its job, or was closed by the write that ended it.
CREATE VIEW job_attempt_history AS
SELECT a.job_id, a.attempt, a.worker_id, a.started_at, a.finished_at, a.outcome, a.error
FROM job_attempts a
WHERE a.outcome <> 'running'
UNION ALL
SELECT j.id, j.attempt, j.worker_id, j.started_at, j.finished_at, lower(j.state), NULL
FROM jobs j
WHERE j.state IN ('RUNNING', 'SUCCEEDED')
  AND NOT EXISTS (SELECT 1 FROM job_attempts a
                  WHERE a.job_id = j.id AND a.attempt = j.attempt AND a.outcome <> 'running');
