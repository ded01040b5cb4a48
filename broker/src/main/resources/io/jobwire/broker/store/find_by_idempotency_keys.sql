-- The jobs already holding these (owner, idempotency_key) pairs, live or finished.
SELECT j.*
FROM unnest(:owners::text[], :keys::text[]) AS k(owner, idempotency_key)
JOIN job_keys jk ON jk.owner = k.owner AND jk.idempotency_key = k.idempotency_key
JOIN jobs j ON j.id = jk.job_id
