-- Deletes a key's rate limit: its waiting jobs are admitted without one from the next pass on.
DELETE FROM rate_limits WHERE key = :key
RETURNING *, 0::bigint AS waiting
