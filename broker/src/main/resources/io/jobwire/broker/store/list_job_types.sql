SELECT t.name, t.description, t.payload_schema, t.first_seen_at, t.last_seen_at,
       (SELECT count(*)
        FROM worker_sessions s
        WHERE t.name = ANY (s.job_types)
          AND s.last_seen_at > now() - :staleMs * interval '1 millisecond') AS workers_online
FROM job_types t
ORDER BY t.name
