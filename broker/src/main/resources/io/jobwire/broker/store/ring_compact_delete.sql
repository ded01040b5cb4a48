-- Deletes from an old segment the entries ring_compact.sql copied (by job: no entry comes into a segment
-- this old), but those a claim holds: the claim deletes them. The caller puts the segment's table in
-- place of {segment}.
DELETE FROM {segment} r
WHERE r.ctid = ANY (ARRAY(SELECT o.ctid FROM {segment} o WHERE o.job_id = ANY (:jobs::bigint[]) FOR UPDATE SKIP LOCKED))
