-- The backbone tables every service schema holds. {schema} is the service's own schema.
CREATE TABLE IF NOT EXISTS {schema}.events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    era             integer NOT NULL DEFAULT 1,
    tx_id           xid8 NOT NULL DEFAULT pg_current_xact_id(),
    stream          text NOT NULL,
    version         integer NOT NULL CHECK (version > 0),
    event_id        uuid NOT NULL UNIQUE,
    type            text NOT NULL,
    schema_version  integer NOT NULL,
    data            jsonb NOT NULL,
    metadata        jsonb NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (stream, version)
);
CREATE INDEX IF NOT EXISTS events_feed_order ON {schema}.events (era, tx_id, position);
CREATE INDEX IF NOT EXISTS events_recorded_at ON {schema}.events (recorded_at);

-- The era leads the feed order: after a logical dump/restore resets transaction ids, an operator
-- starts a new era so that new rows still sort after every restored one.
CREATE TABLE IF NOT EXISTS {schema}.feed_era (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    era integer NOT NULL
);
INSERT INTO {schema}.feed_era (era) VALUES (1) ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS {schema}.relay_checkpoint (
    relay       text PRIMARY KEY,
    era         integer NOT NULL,
    tx_id       bigint NOT NULL,
    position    bigint NOT NULL,
    published   bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- What each consumer has applied, written in the same transaction as the consumer's own writes.
CREATE TABLE IF NOT EXISTS {schema}.consumer_inbox (
    consumer      text NOT NULL,
    event_id      uuid NOT NULL,
    source        text NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE TABLE IF NOT EXISTS {schema}.consumer_cursor (
    consumer    text NOT NULL,
    source      text NOT NULL,
    era         integer NOT NULL,
    tx_id       bigint NOT NULL,
    position    bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, source)
);

-- Messages a consumer could not apply: kept with the error, never dropped, replayable.
CREATE TABLE IF NOT EXISTS {schema}.parked_messages (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer     text NOT NULL,
    source       text,
    event_id     text,
    type         text,
    body         text NOT NULL,
    error        text NOT NULL,
    parked_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz
);
