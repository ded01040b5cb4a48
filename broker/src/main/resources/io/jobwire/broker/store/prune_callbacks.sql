-- Delivered and failed deliveries (with their attempts) older than the retention, a batch at a time.
DELETE FROM callback_deliveries
WHERE id IN (SELECT id FROM callback_deliveries
             WHERE state <> 'pending' AND finished_at < now() - :retentionMs * interval '1 millisecond'
             LIMIT :batch)
