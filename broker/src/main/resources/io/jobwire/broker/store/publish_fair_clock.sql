-- The furthest turn a broker's claims took of each fair type (FairClock): moves forward only, whichever
-- broker writes. In the order of the types, so two brokers writing the same rows cannot deadlock.
INSERT INTO fair_clock AS c (type, turn)
SELECT type, turn FROM unnest(:types::text[], :turns::bigint[]) AS t(type, turn)
ORDER BY type
ON CONFLICT (type) DO UPDATE SET turn = greatest(c.turn, excluded.turn)
