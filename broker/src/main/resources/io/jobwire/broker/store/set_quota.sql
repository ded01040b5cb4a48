INSERT INTO quotas AS q (owner, type_pattern, max_waiting, per_minute, per_hour, per_day, set_by)
VALUES (:owner, :pattern, :maxWaiting, :perMinute, :perHour, :perDay, :setBy)
ON CONFLICT (owner, type_pattern) DO UPDATE
SET max_waiting = excluded.max_waiting,
    per_minute = excluded.per_minute,
    per_hour = excluded.per_hour,
    per_day = excluded.per_day,
    set_by = excluded.set_by,
    set_at = now()
RETURNING *
