-- The deliveries of some jobs, oldest first.
SELECT * FROM callback_deliveries WHERE job_id = ANY (:jobIds::bigint[]) ORDER BY job_id, id
