-- Stream names compare byte by byte (collation "C"), whatever the database's default collation.
--
-- The services list their aggregates by stream-name prefix (`stream LIKE 'cadre-%'`: the cadre register,
-- campaigns, placements' versions for the check-in scan). PostgreSQL can serve a prefix LIKE from the
-- (stream, version) index only under the "C" collation; under any other (en_US.UTF-8, even C.UTF-8) it
-- scanned the whole log: 90 ms to find that an assessment log of 550,000 events holds no campaign, 0.2 ms
-- now. Stream names are identifiers ("cadre-c000123"): nothing reads them in a language's sort order.
-- Rebuilds the indexes on `stream` (an exclusive lock for as long as that takes: run it before the
-- service starts, as the migrations always run).
ALTER TABLE {schema}.events ALTER COLUMN stream TYPE text COLLATE "C";
