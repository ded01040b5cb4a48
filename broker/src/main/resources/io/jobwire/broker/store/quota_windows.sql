-- The buckets in each rolling window of the quotas: seconds of the last minute, minutes of the last hour,
-- hours of the last day (database clock), oldest first, with the time they were read.
SELECT u.owner, u.type_pattern, u.span, u.bucket, u.submitted, now() AS taken_at
FROM quota_usage u
WHERE (u.owner, u.type_pattern) IN (SELECT * FROM unnest(:owners::text[], :patterns::text[]))
  AND u.bucket > now() - CASE u.span WHEN 'second' THEN interval '1 minute'
                                      WHEN 'minute' THEN interval '1 hour'
                                      ELSE interval '1 day' END
ORDER BY u.owner, u.type_pattern, u.span, u.bucket
