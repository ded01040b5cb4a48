-- Stores progress and extends the lease (never past the attempt's run timeout), for valid leases only.
WITH input AS (
    SELECT * FROM unnest(:ids::bigint[], :attempts::int[], :tokens::uuid[], :principals::text[], :percents::real[],
                         :messages::text[], :details::text[])
             AS i(id, attempt, token, principal, percent, message, details)
), changed AS (
    UPDATE live_jobs j
    SET progress_percent = i.percent,
        progress_message = i.message,
        progress_details = i.details::jsonb,
        progress_at = now(),
        lease_expires_at = least(now() + j.lease_duration_ms * interval '1 millisecond',
                                 j.started_at + j.run_timeout_ms * interval '1 millisecond'),
        updated_at = now(),
        version = j.version + 1
    FROM input i
    -- @lease-fence
    RETURNING /*@change_row j*/
)
SELECT * FROM changed
