-- Included as "-- @include job_filter" after a WHERE over the jobs view: List's filters, each optional (a
-- null or empty parameter matches all). The including statement adds its page's bound and order.
(cardinality(:states::text[]) = 0 OR state = ANY (:states::text[]))
  AND (cardinality(:types::text[]) = 0 OR type = ANY (:types::text[]))
  AND (cardinality(:queues::text[]) = 0 OR queue = ANY (:queues::text[]))
  AND (:owner::text IS NULL OR owner = :owner::text)
  AND (:labels::jsonb IS NULL OR labels @> :labels::jsonb)
  AND (:payloadContains::jsonb IS NULL OR payload @> :payloadContains::jsonb)
  AND (:parentId::bigint IS NULL OR parent_id = :parentId::bigint)
