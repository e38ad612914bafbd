-- Up to which cursor a consumer applied events without recording them in its inbox (a rebuild loads the
-- read models that way); NULL: the inbox holds every event the consumer applied. Behind this point a
-- delivered event missing from the inbox was applied all the same; beyond it, such an event was never
-- applied: the cursor had been moved past it (by a message its source never sent), and the consumer
-- rewinds and reads the feed again (the inbox keeps what it applied from being applied twice).
ALTER TABLE {schema}.consumer_cursor
    ADD COLUMN IF NOT EXISTS inbox_era integer,
    ADD COLUMN IF NOT EXISTS inbox_tx_id bigint,
    ADD COLUMN IF NOT EXISTS inbox_position bigint;
-- Cursors of consumers already running: whatever they passed counts as applied (as it did before).
UPDATE {schema}.consumer_cursor SET inbox_era = era, inbox_tx_id = tx_id, inbox_position = position
    WHERE inbox_era IS NULL;
