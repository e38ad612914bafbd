-- The feed's horizon, per schema: the oldest transaction still running that may append to this log.
--
-- The feed shows only rows whose transaction id lies below its horizon, so that no row can commit
-- behind a reader's cursor. Migration 001 used the cluster's horizon (pg_snapshot_xmin): any writing
-- transaction anywhere in the cluster -- another service's consumer, a rebuild, a migration -- held
-- this log's feed back until it ended. Now every append takes a shared advisory lock keyed by this
-- events table before its first write (EventStore.append_streams; the append must be the first
-- write, so its transaction id is assigned after the lock is held), and the horizon is the oldest
-- transaction id among that lock's holders, or the next transaction id to be assigned if none
-- holds one.
--
-- Why it is safe: the next id is read from this statement's snapshot, before the lock holders are
-- read; a holder with no id yet will get one at or above it. A holder that ends releases the lock
-- only after its commit is visible, so a caller that reads the feed in a *later* statement (a new
-- snapshot under READ COMMITTED) sees every row below the horizon that will ever commit there.
-- Callers must therefore compute the horizon in a statement of its own, before the feed's SELECT.
-- The caller names the log (`feed_horizon('<schema>.events')`): the body names no schema, so the
-- function still works after the schema is renamed (a read-model rebuild switches schemas that way).
CREATE OR REPLACE FUNCTION {schema}.feed_horizon(log regclass) RETURNS xid8 LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    next_xid bigint;
    oldest bigint;
BEGIN
    -- pg_stat_activity is cached for the rest of a transaction once read: read it afresh
    PERFORM pg_stat_clear_snapshot();
    next_xid := pg_snapshot_xmax(pg_current_snapshot())::text::bigint;
    -- backend_xid is a 32-bit xid: widen it to the 64-bit id by its distance below next_xid modulo
    -- 2^32 (a running transaction lies less than 2^31 below it); a distance of 2^31 or more means an
    -- id assigned after this snapshot, at or above next_xid, which cannot lower the horizon
    SELECT min(next_xid - CASE WHEN d < 2147483648 THEN d ELSE 0 END)
      INTO oldest
      FROM (SELECT ((next_xid - a.backend_xid::text::bigint) % 4294967296 + 4294967296) % 4294967296 AS d
              FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
               AND l.classid = 1178944340 AND l.objid = log
               AND a.backend_xid IS NOT NULL) AS holders;
    RETURN least(next_xid, coalesce(oldest, next_xid))::text::xid8;
END
$$;
