-- Pauses a queue or a type; a second pause keeps the first (its reason and time). The row comes back either way.
INSERT INTO pauses (kind, name, reason, paused_by)
VALUES (:kind, :name, :reason, :pausedBy)
ON CONFLICT (kind, name) DO UPDATE SET kind = EXCLUDED.kind
RETURNING *
