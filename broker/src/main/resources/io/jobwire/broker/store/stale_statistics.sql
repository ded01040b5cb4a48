-- Tables whose planner statistics lag far behind their contents: more rows changed since the last
-- ANALYZE than a tenth of the table (and at least :minChanges), and either more than the table held
-- when it was last analyzed (it more than doubled or turned over: a burst), or no ANALYZE (ours or
-- autovacuum's) for :minIntervalMs. A steady stream of jobs through a small table changes a tenth of
-- it every few seconds; analyzing it that often takes a core for a third of a second each time.
SELECT s.relname
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
WHERE (s.relname IN ('live_jobs', 'job_attempts', 'job_history_default')
       OR s.relname IN (SELECT name FROM job_history_parts))
  AND s.schemaname = current_schema()
  AND s.n_mod_since_analyze > greatest(:minChanges, 0.1 * (s.n_live_tup + s.n_dead_tup))
  AND (s.n_mod_since_analyze > greatest(c.reltuples, 0)
       OR coalesce(greatest(s.last_analyze, s.last_autoanalyze), '-infinity')
          < now() - :minIntervalMs * interval '1 millisecond')
