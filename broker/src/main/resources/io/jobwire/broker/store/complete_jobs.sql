-- Finishes jobs successfully, for valid leases only: each leaves live_jobs for job_history in this
-- statement (its lease entry is the reaper's to delete). No attempt row: the job row keeps its last
-- attempt, and a job that succeeded never runs again (job_attempt_history reads it from there).
WITH input AS (
    SELECT * FROM unnest(:ids::bigint[], :attempts::int[], :tokens::uuid[], :principals::text[], :results::text[])
             AS i(id, attempt, token, principal, result)
), finishing AS (
    DELETE FROM live_jobs j
    USING input i
    -- @lease-fence
    RETURNING j.*, 'SUCCEEDED'::text AS final_state, i.result::jsonb AS final_result, j.last_error AS final_error,
              0 AS final_errors
), moved AS (
    -- @include finish_into_history
    RETURNING /*@change_row*/, last_error, worker_id, started_at
)
SELECT * FROM moved
