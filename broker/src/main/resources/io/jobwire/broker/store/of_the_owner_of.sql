-- Of the ids, those of jobs (live or finished) of the owner of live job :jobId.
WITH owner AS (SELECT owner FROM live_jobs WHERE id = :jobId)
SELECT id FROM live_jobs WHERE id = ANY (:ids::bigint[]) AND owner = (SELECT owner FROM owner)
UNION ALL
SELECT id FROM job_history WHERE id = ANY (:ids::bigint[]) AND owner = (SELECT owner FROM owner)
