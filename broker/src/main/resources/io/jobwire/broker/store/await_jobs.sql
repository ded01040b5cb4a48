-- AwaitJobs, for valid leases only: the attempt ends 'awaiting' (refunded, as a release) and the job
-- waits (WAITING) for the jobs named, then runs again whatever they came to (on_dependency_failure =
-- 'run': the handler reads their outcomes when it resumes). :awaited holds each job's ids, comma-separated.
-- The resolver (DependencyResolver) queues it at once if they have all finished already.
WITH input AS (
    SELECT * FROM unnest(:ids::bigint[], :attempts::int[], :tokens::uuid[], :principals::text[], :awaited::text[])
             AS i(id, attempt, token, principal, awaited)
), changed AS (
    UPDATE live_jobs j
    SET state = 'WAITING',
        depends_on = string_to_array(i.awaited, ',')::bigint[],
        on_dependency_failure = 'run',
        spent_attempts = greatest(j.spent_attempts - 1, 0),
        lease_token = NULL,
        lease_expires_at = NULL,
        -- a job of a concurrency key gives its slot back while it waits (its children may need it), one
        -- of a rate key takes a token for its next start
        key_admitted = CASE WHEN j.key_admitted IS NULL THEN NULL ELSE false END,
        key_slot = CASE WHEN j.key_slot IS NULL THEN NULL ELSE false END,
        updated_at = now(),
        version = j.version + 1
    FROM input i
    -- @lease-fence
    RETURNING /*@change_row j*/,
              j.worker_id, j.started_at, j.depends_on
), waits AS (
    INSERT INTO job_dependencies (job_id, depends_on)
    SELECT c.id, unnest(c.depends_on) FROM changed c
    ON CONFLICT DO NOTHING
), ended AS (
    SELECT changed.id, changed.attempt, changed.worker_id, changed.started_at, 'awaiting' AS outcome,
           'waits for ' || array_to_string(changed.depends_on, ', ') AS error
    FROM changed
), history AS (
    -- @include attempt_ended
)
SELECT /*@change_row*/ FROM changed
