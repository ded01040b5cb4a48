-- A schedule fired: its next fire, and what the last one made.
UPDATE schedules
SET next_fire_at = :nextFireAt,
    last_fire_at = coalesce(:lastFireAt::timestamptz, last_fire_at),
    last_job_id = coalesce(:lastJobId::bigint, last_job_id),
    fires = fires + :fires,
    last_error = :lastError::text
WHERE owner = :owner AND name = :name
