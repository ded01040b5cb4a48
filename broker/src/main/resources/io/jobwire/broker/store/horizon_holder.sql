-- What holds back the row versions vacuum may remove in this database, the oldest of them: an open
-- transaction or snapshot of a session of this database (a report, a forgotten BEGIN in psql, a pg_dump),
-- a replication connection's feedback or a physical replication slot (a standby's hot_standby_feedback),
-- a prepared transaction. Reads the statistics views only: no lock. seconds is how long it has been open,
-- where the server shows it (another role's sessions show their start only to superusers and members of
-- pg_read_all_stats: NULL then); xmin (the transaction's id if it has one, else its snapshot's xmin)
-- tells one holder from the next. Sessions without a role (autovacuum) hold back no other vacuum.
SELECT kind, pid, who, state, seconds, xmin
FROM (
    SELECT CASE WHEN a.backend_type = 'walsender' THEN 'replication connection' ELSE 'session' END AS kind,
           a.pid,
           coalesce(nullif(a.application_name, ''), 'no application name') || ', role ' || a.usename
               || coalesce(', from ' || host(a.client_addr), '') AS who,
           a.state,
           extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS seconds,
           coalesce(a.backend_xid, a.backend_xmin)::text AS xmin,
           greatest(age(a.backend_xmin), age(a.backend_xid)) AS xids
    FROM pg_stat_activity a
    WHERE (a.backend_xmin IS NOT NULL OR a.backend_xid IS NOT NULL) AND a.usesysid IS NOT NULL
      AND a.pid <> pg_backend_pid() AND (a.datname = current_database() OR a.backend_type = 'walsender')
    UNION ALL
    SELECT 'replication slot', NULL, s.slot_name, NULL, NULL, s.xmin::text, age(s.xmin)
    FROM pg_replication_slots s
    WHERE s.xmin IS NOT NULL
    UNION ALL
    SELECT 'prepared transaction', NULL, p.gid || ', role ' || p.owner, NULL,
           extract(epoch FROM clock_timestamp() - p.prepared)::float8, p.transaction::text, age(p.transaction)
    FROM pg_prepared_xacts p
    WHERE p.database = current_database()
) h
ORDER BY xids DESC
LIMIT 1
