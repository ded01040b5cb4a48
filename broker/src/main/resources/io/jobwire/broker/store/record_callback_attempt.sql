-- What one attempt of a delivery did: the attempt is kept, and the delivery becomes delivered, pending again
-- after :delayMs (while that stays inside its retry window), or failed. Only the attempt that holds the
-- delivery changes its state: one that outlived its claim (and was taken again meanwhile) is only recorded.
WITH attempt AS (
    INSERT INTO callback_attempts (delivery_id, attempt, at, took_ms, http_status, response, error)
    VALUES (:id, :attempt, now() - :tookMs * interval '1 millisecond', :tookMs, :status, :response, :error)
    ON CONFLICT DO NOTHING
)
UPDATE callback_deliveries
SET state = CASE WHEN :delivered THEN 'delivered'
                 WHEN :retryable AND now() + :delayMs * interval '1 millisecond'
                      <= coalesce(retry_until, created_at + :retryForMs * interval '1 millisecond') THEN 'pending'
                 ELSE 'failed' END,
    next_attempt_at = now() + :delayMs * interval '1 millisecond',
    finished_at = CASE WHEN :delivered OR NOT (:retryable AND now() + :delayMs * interval '1 millisecond'
                           <= coalesce(retry_until, created_at + :retryForMs * interval '1 millisecond'))
                       THEN now() END,
    last_status = :status,
    last_error = :error
WHERE id = :id AND attempts = :attempt AND state = 'pending'
RETURNING state
