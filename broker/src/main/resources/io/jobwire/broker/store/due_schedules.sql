-- The schedules due now that no other broker is firing (their rows stay locked until this one commits).
SELECT * FROM schedules
WHERE NOT paused AND next_fire_at <= :now
ORDER BY next_fire_at
LIMIT :limit
FOR UPDATE SKIP LOCKED
