-- Of the ids, those of jobs that exist, live or finished, and belong to :owner (any owner when null).
SELECT id FROM live_jobs WHERE id = ANY (:ids::bigint[]) AND (:owner::text IS NULL OR owner = :owner::text)
UNION ALL
SELECT id FROM job_history WHERE id = ANY (:ids::bigint[]) AND (:owner::text IS NULL OR owner = :owner::text)
