-- The relay's place in each published topic (topics.py): for each topic, its types and the feed position
-- of the last of its events published, saved with the checkpoint in one statement, so a new leader goes on
-- chaining each topic where the last left it without searching the log. NULL, or a topic missing or with
-- other types: the leader finds that topic's last event before the checkpoint in the log once.
ALTER TABLE {schema}.relay_checkpoint ADD COLUMN IF NOT EXISTS topics jsonb;
