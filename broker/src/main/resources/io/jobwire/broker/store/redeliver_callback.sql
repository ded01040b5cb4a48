-- A delivered or failed delivery pending again, due now, with a fresh retry window. Its webhook-id (the
-- delivery's id) stays: receivers that deduplicate see the same event.
UPDATE callback_deliveries
SET state = 'pending',
    next_attempt_at = now(),
    retry_until = now() + :retryForMs * interval '1 millisecond',
    finished_at = NULL
WHERE id = :id AND (:owner::text IS NULL OR owner = :owner::text) AND state <> 'pending'
RETURNING *
