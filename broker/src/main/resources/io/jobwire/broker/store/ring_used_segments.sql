-- The ring's segment tables that hold anything (a truncated one has no pages), but those of now, which
-- statements are writing to, with how many seconds ago their segment was the segment of now. What each
-- holds is counted apart (Ring.segmentsToLookAt): the statistics' live rows are no measure of it.
SELECT t.name, (jobwire_segment() - s + 16) % 16 AS age
FROM generate_series(0, 15) AS s
CROSS JOIN LATERAL (VALUES ('job_ready_' || s), ('job_leases_' || s), ('job_count_deltas_' || s)) AS t(name)
WHERE s <> jobwire_segment()
  AND pg_relation_size(t.name::regclass) > 0
ORDER BY s, t.name
