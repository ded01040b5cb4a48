-- Buckets no window reaches any more.
DELETE FROM quota_usage WHERE bucket < now() - interval '1 day 1 hour'
