-- A new schedule; nothing (no row back) when the owner has one of that name.
INSERT INTO schedules (owner, name, type, job, cron, zone, every_ms, missed, paused, next_fire_at, created_by, created_at)
VALUES (:owner, :name, :type, :job::jsonb, :cron, :zone, :everyMs, :missed, :paused, :nextFireAt, :createdBy, :createdAt)
ON CONFLICT (owner, name) DO NOTHING
RETURNING *
