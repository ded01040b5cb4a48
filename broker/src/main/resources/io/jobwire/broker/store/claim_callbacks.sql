-- Takes up to :limit due callback deliveries: chosen with SKIP LOCKED so no two brokers take the same one,
-- counted as an attempt, and moved :claimMs ahead, so that a broker that dies during the POST leaves the
-- delivery due again then. Each comes with the job as its event left it (the snapshot read back into a row
-- of live_jobs' shape) and the owner's signing secrets.
WITH due AS (
    SELECT id
    FROM callback_deliveries
    WHERE state = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), taken AS (
    UPDATE callback_deliveries d
    SET attempts = d.attempts + 1,
        next_attempt_at = now() + :claimMs * interval '1 millisecond',
        -- the retry window is fixed by the first broker to try it
        retry_until = coalesce(d.retry_until, d.created_at + :retryForMs * interval '1 millisecond')
    FROM due
    WHERE d.id = due.id
    RETURNING d.*
)
SELECT t.id AS delivery_id, t.url AS delivery_url, t.event AS delivery_event, t.attempts AS delivery_attempt,
       t.created_at AS delivery_created_at, t.owner AS delivery_owner,
       (t.snapshot -> 'payload_omitted') IS NOT NULL AS payload_omitted,
       s.secret AS secret, CASE WHEN s.previous_until > now() THEN s.previous END AS previous_secret,
       j.*
FROM taken t
LEFT JOIN callback_secrets s ON s.owner = t.owner
CROSS JOIN LATERAL jsonb_populate_record(NULL::live_jobs, t.snapshot) j
