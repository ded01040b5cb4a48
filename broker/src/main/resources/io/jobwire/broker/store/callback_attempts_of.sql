-- The attempts of some deliveries, oldest first.
SELECT * FROM callback_attempts WHERE delivery_id = ANY (:ids::bigint[]) ORDER BY delivery_id, attempt
