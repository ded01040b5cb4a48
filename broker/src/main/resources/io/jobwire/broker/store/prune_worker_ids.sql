-- Forgets worker ids not seen since the cutoff (the retention): another principal may take them then.
DELETE FROM worker_ids WHERE last_seen_at < :cutoff
