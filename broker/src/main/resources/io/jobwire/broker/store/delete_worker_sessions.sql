DELETE FROM worker_sessions WHERE session_id = ANY (:sessionIds::text[])
