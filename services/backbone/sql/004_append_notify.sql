-- Wake the relay as soon as events commit instead of at its next poll: a statement-level trigger
-- notifies the channel `fourgates_events_<schema>`; PostgreSQL delivers the notification at commit
-- (never for a rolled-back append). The relay still polls, so a lost notification only costs a poll.
CREATE OR REPLACE FUNCTION {schema}.notify_appended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fourgates_events_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS events_appended ON {schema}.events;
CREATE TRIGGER events_appended AFTER INSERT ON {schema}.events
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.notify_appended();
