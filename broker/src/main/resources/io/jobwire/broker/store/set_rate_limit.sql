-- Sets a key's rate limit. A new key starts with a full bucket; a changed one keeps the tokens it saved
-- up (refilled at the old rate until now, up to the old room), up to the new burst.
INSERT INTO rate_limits AS r (key, per_second, burst, tokens, refilled_at, set_by)
VALUES (:key, :perSecond, :burst, :burst, clock_timestamp(), :setBy)
ON CONFLICT (key) DO UPDATE
SET per_second = excluded.per_second,
    burst = excluded.burst,
    tokens = greatest(0, least(excluded.burst, r.burst - r.held,
                               r.tokens + extract(epoch FROM clock_timestamp() - r.refilled_at)::float8 * r.per_second)),
    refilled_at = clock_timestamp(),
    set_by = excluded.set_by,
    set_at = now()
RETURNING r.*, 0::bigint AS waiting
