SELECT *
FROM worker_sessions
WHERE last_seen_at > now() - :staleMs * interval '1 millisecond'
ORDER BY worker_id, connected_at
