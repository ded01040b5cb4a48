-- One page of deliveries, newest first. :owner null: every owner's (admins). Failing: given up, or pending
-- after an attempt that failed (a delivered one is never pending again, so a status or error on a pending
-- delivery is a failure's).
SELECT *
FROM callback_deliveries
WHERE (:owner::text IS NULL OR owner = :owner::text)
  AND (:jobId::bigint IS NULL OR job_id = :jobId::bigint)
  AND (NOT :failing OR state = 'failed' OR (state = 'pending' AND (last_status IS NOT NULL OR last_error IS NOT NULL)))
  AND (:beforeId::bigint IS NULL OR id < :beforeId::bigint)
ORDER BY id DESC
LIMIT :limit
