-- The jobs already holding these (owner, idempotency_key) pairs.
SELECT j.*
FROM unnest(:owners::text[], :keys::text[]) AS k(owner, idempotency_key)
JOIN jobs j ON j.owner = k.owner AND j.idempotency_key = k.idempotency_key
