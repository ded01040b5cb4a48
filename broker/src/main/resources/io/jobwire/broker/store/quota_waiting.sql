-- Jobs of the owner, of the types the quota covers, QUEUED, RUNNING or HELD now: from the counts kept as
-- jobs change (job_counts and the deltas not rolled into it yet), which include this transaction's inserts.
SELECT coalesce(sum(jobs), 0)
FROM (SELECT type, state, jobs FROM job_counts WHERE owner = :owner
      UNION ALL
      SELECT type, state, jobs FROM job_count_deltas WHERE owner = :owner) AS counted
WHERE state IN ('QUEUED', 'RUNNING', 'HELD', 'WAITING')
  AND (:typeLike::text IS NULL OR type LIKE :typeLike::text ESCAPE '\')
