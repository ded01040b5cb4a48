-- Resolves WAITING jobs (locked by lock_waiting.sql; this statement's snapshot, taken after the locks,
-- sees every finish committed before). A job whose dependencies all SUCCEEDED is QUEUED (due at its run_at,
-- or now), with its ready entry or its line for a key, and its job_dependencies rows go. One with a
-- dependency FAILED, CANCELLED or gone is named for cancelling (the caller cancels it after the commit,
-- through the ordinary cancel), or, with on_dependency_failure = 'run', QUEUED once none is unfinished.
-- Returns the jobs queued (what = 'queued', with the change row) and those to cancel (what = 'cancel',
-- with the dependency and its state).
WITH waiting AS (
    SELECT j.id, j.on_dependency_failure AS on_failure
    FROM live_jobs j
    WHERE j.id = ANY (:ids::bigint[]) AND j.state = 'WAITING'
), deps AS (
    SELECT w.id, w.on_failure, d.depends_on, coalesce(l.state, h.state) AS dep_state
    FROM waiting w
    LEFT JOIN job_dependencies d ON d.job_id = w.id
    LEFT JOIN live_jobs l ON l.id = d.depends_on
    LEFT JOIN job_history h ON h.id = d.depends_on AND l.id IS NULL
), decided AS (
    SELECT id, max(on_failure) AS on_failure,
           bool_and(depends_on IS NULL OR dep_state = 'SUCCEEDED') AS all_succeeded,
           bool_or(dep_state IN ('QUEUED', 'RUNNING', 'HELD', 'WAITING')) AS some_unfinished,
           min(depends_on) FILTER (WHERE depends_on IS NOT NULL AND (dep_state IS NULL OR dep_state IN ('FAILED', 'CANCELLED')))
               AS failed_dep
    FROM deps
    GROUP BY id
), readied AS (
    UPDATE live_jobs j
    SET state = 'QUEUED', run_at = greatest(j.run_at, now()), updated_at = now(), version = j.version + 1
    FROM decided d
    WHERE j.id = d.id AND j.state = 'WAITING'
      AND (d.all_succeeded OR d.on_failure = 'run' AND NOT coalesce(d.some_unfinished, false))
    RETURNING /*@change_row j*/, j.priority, j.key_admitted, j.key_slot, j.fair_seq
), resolved AS (
    DELETE FROM job_dependencies d WHERE d.job_id IN (SELECT id FROM readied)
),
-- @include ready_entries(readied)
SELECT 'queued' AS what, /*@change_row*/, NULL::bigint AS dependency, NULL::text AS dependency_state
FROM readied
UNION ALL
SELECT 'cancel', d.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, d.failed_dep,
       coalesce((SELECT dep_state FROM deps x WHERE x.id = d.id AND x.depends_on = d.failed_dep), 'GONE')
FROM decided d
WHERE d.failed_dep IS NOT NULL AND d.on_failure = 'cancel' AND d.id NOT IN (SELECT id FROM readied)
