-- Announces the rows of the CTE `changed` to the other brokers, in the statement that changes them: one
-- pg_notify per 100 rows (PostgreSQL caps a payload near 8000 bytes), sent when the statement commits.
-- The payload is ChangeNotifier's: origin|id:version:STATE:attempt:runAtMillis;...
-- Included where a statement says "-- @announce"; its final SELECT must read `announced` so this runs.
announced AS MATERIALIZED (
    SELECT pg_notify(:channel, :origin || '|' || string_agg(e.entry, ';' ORDER BY e.n))
    FROM (SELECT c.id || ':' || c.version || ':' || c.state || ':' || c.attempt || ':'
                     || coalesce(floor(extract(epoch FROM c.run_at) * 1000)::bigint, 0) AS entry,
                 row_number() OVER () - 1 AS n
          FROM changed c) e
    GROUP BY e.n / 100
)
