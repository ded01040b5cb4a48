-- Takes this broker's turn at a shared pass: a row comes back if no broker ran the pass within :gapMs
-- (by the database's clock, the same for every broker). Row-locked: two brokers asking at once get one turn.
INSERT INTO maintenance_turns AS t (pass, ran_at, broker_id)
VALUES (:pass, clock_timestamp(), :brokerId)
ON CONFLICT (pass) DO UPDATE
SET ran_at = clock_timestamp(), broker_id = :brokerId
WHERE t.ran_at <= clock_timestamp() - :gapMs * interval '1 millisecond'
RETURNING t.broker_id
