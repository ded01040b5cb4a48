-- Sessions of brokers that died without removing them.
DELETE FROM worker_sessions WHERE last_seen_at < now() - :staleMs * interval '1 millisecond'
