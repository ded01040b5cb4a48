-- The quotas a submit falls under, locked until its commit: submitters of one owner take turns. Locked in
-- one order (owner, then pattern) by every broker, so two submits never wait for each other's rows.
SELECT * FROM quotas
WHERE (owner, type_pattern) IN (SELECT * FROM unnest(:owners::text[], :patterns::text[]))
ORDER BY owner, type_pattern
FOR UPDATE
