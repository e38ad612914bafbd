-- How a parked message was resolved, by whom and why: replayed through its handler, or dismissed.
-- (resolved_at, in 001, says when.)
ALTER TABLE {schema}.parked_messages
    ADD COLUMN IF NOT EXISTS resolution text CHECK (resolution IN ('replayed', 'dismissed')),
    ADD COLUMN IF NOT EXISTS resolved_by text,
    ADD COLUMN IF NOT EXISTS resolution_note text;
