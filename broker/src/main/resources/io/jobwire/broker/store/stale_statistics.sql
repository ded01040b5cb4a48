-- Tables whose planner statistics lag far behind their contents: more rows changed since the last
-- ANALYZE than a tenth of the table (and at least :minChanges).
SELECT relname
FROM pg_stat_user_tables
WHERE relname IN ('jobs', 'job_attempts')
  AND schemaname = current_schema()
  AND n_mod_since_analyze > greatest(:minChanges, 0.1 * (n_live_tup + n_dead_tup))
