-- Whether the consumer recorded a parked event in its inbox (and moved its cursor past it) when it parked
-- it. true: a handler failed on the event, so only a replay applies it. false: the message never reached
-- a handler (undecodable, malformed, oversized, another source's type): the event, if it is one, still
-- comes through the source's feed, and a replay must not apply it a second time.
ALTER TABLE {schema}.parked_messages ADD COLUMN IF NOT EXISTS recorded boolean;
UPDATE {schema}.parked_messages SET recorded = NOT (
    error LIKE 'undecodable message%' OR error LIKE 'malformed message%' OR error LIKE 'oversized message%'
    OR error LIKE 'unknown event type%') WHERE recorded IS NULL;
ALTER TABLE {schema}.parked_messages ALTER COLUMN recorded SET DEFAULT true, ALTER COLUMN recorded SET NOT NULL;
