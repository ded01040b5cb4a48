-- A new database's first hour of history in a partition of its own. V8 bounds job_history_before at the end
-- of the hour it ran in, so on a database made just now the first hour's finished jobs land there, and
-- retention deletes them row by row a week later, where every later hour's partition is dropped whole. On
-- such a database (the partition V8 made is the only one and it is empty, as is the default one: no broker
-- has served yet) it now ends at the start of this hour, and the brokers' partitions, made from where the
-- last one ends, start there. A database that has served is left as it is.
DO $$
DECLARE
    upto timestamptz := date_bin('1 hour', now(), '1970-01-01 00:00:00+00');
BEGIN
    IF (SELECT count(*) FROM job_history_parts) <> 1
       OR NOT EXISTS (SELECT 1 FROM job_history_parts WHERE name = 'job_history_before')
       OR EXISTS (SELECT 1 FROM job_history_before)
       OR EXISTS (SELECT 1 FROM job_history_default)
       OR (SELECT ends FROM job_history_parts WHERE name = 'job_history_before') <= upto THEN
        RETURN;
    END IF;
    ALTER TABLE job_history DETACH PARTITION job_history_before;
    ALTER TABLE job_history_before DROP CONSTRAINT job_history_before_range;
    EXECUTE format('ALTER TABLE job_history_before ADD CONSTRAINT job_history_before_range CHECK (finished_at < %L)', upto);
    EXECUTE format('ALTER TABLE job_history ATTACH PARTITION job_history_before FOR VALUES FROM (MINVALUE) TO (%L)', upto);
    UPDATE job_history_parts SET ends = upto WHERE name = 'job_history_before';
END $$;
