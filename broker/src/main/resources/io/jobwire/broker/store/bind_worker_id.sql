-- Binds a worker id to the first principal that uses it and returns the principal it belongs to.
-- DO UPDATE (rather than DO NOTHING) so the row is returned either way; it only moves last_seen_at.
INSERT INTO worker_ids AS w (worker_id, principal)
VALUES (:workerId, :principal)
ON CONFLICT (worker_id) DO UPDATE
SET last_seen_at = CASE WHEN w.principal = excluded.principal THEN now() ELSE w.last_seen_at END
RETURNING w.principal
