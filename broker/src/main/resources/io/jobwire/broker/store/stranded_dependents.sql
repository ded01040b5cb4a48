-- Waiting jobs with a dependency that has left live_jobs (finished) but no resolution yet: what a broker
-- that died between a finish and its resolution left, at most :limit.
SELECT DISTINCT d.job_id
FROM job_dependencies d
WHERE NOT EXISTS (SELECT 1 FROM live_jobs l WHERE l.id = d.depends_on)
LIMIT :limit
