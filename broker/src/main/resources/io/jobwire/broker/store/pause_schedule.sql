-- Pauses or resumes a schedule; a resumed one fires from its next fire after now.
UPDATE schedules SET paused = :paused, next_fire_at = coalesce(:nextFireAt::timestamptz, next_fire_at)
WHERE owner = :owner AND name = :name
RETURNING *
