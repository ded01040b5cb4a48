-- One page of jobs, newest first, matching List's filters.
SELECT *
FROM jobs
WHERE
  -- @include job_filter
  AND (:pastId::bigint IS NULL OR id < :pastId::bigint)
ORDER BY id DESC
LIMIT :limit
