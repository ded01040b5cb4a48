-- Ends a pause; no row back when there was none.
DELETE FROM pauses WHERE kind = :kind AND name = :name
RETURNING *
