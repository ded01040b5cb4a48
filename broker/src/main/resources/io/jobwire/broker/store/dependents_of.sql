-- The jobs waiting for any of these (just finished) jobs.
SELECT DISTINCT job_id FROM job_dependencies WHERE depends_on = ANY (:ids::bigint[])
