-- Counts :submitted jobs against the quota, in this second's, this minute's and this hour's buckets.
INSERT INTO quota_usage AS u (owner, type_pattern, span, bucket, submitted)
SELECT :owner, :pattern, s.span, date_trunc(s.span, now()), :submitted
FROM unnest(ARRAY['second', 'minute', 'hour']) AS s(span)
ON CONFLICT (owner, type_pattern, span, bucket) DO UPDATE SET submitted = u.submitted + excluded.submitted
