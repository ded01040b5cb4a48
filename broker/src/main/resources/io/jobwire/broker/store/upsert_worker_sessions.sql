-- Records this broker's live worker sessions: inserts new ones, refreshes capacity and last_seen_at.
-- Job types and queues arrive as JSON arrays because SQL arrays of arrays must be rectangular.
INSERT INTO worker_sessions (session_id, worker_id, principal, broker_id, job_types, queues, max_concurrency,
                             in_flight, free_capacity)
SELECT s.session_id, s.worker_id, s.principal, :brokerId,
       ARRAY(SELECT jsonb_array_elements_text(s.job_types::jsonb)),
       ARRAY(SELECT jsonb_array_elements_text(s.queues::jsonb)),
       s.max_concurrency, s.in_flight, s.free_capacity
FROM unnest(:sessionIds::text[], :workerIds::text[], :principals::text[], :jobTypes::text[], :queues::text[],
            :maxConcurrency::int[], :inFlight::int[], :freeCapacity::int[])
     AS s(session_id, worker_id, principal, job_types, queues, max_concurrency, in_flight, free_capacity)
ON CONFLICT (session_id) DO UPDATE
SET in_flight = excluded.in_flight,
    free_capacity = excluded.free_capacity,
    last_seen_at = now()
