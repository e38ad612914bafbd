-- The tamper-evident chain: every event, in feed order, gets a gap-free audit number and a hash
-- over its canonical bytes and the previous hash (architecture §5).
CREATE TABLE IF NOT EXISTS {schema}.audit_chain (
    audit_no    bigint PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE,
    era         integer NOT NULL,
    tx_id       bigint NOT NULL,
    position    bigint NOT NULL,
    hash        text NOT NULL,
    sealed_at   timestamptz NOT NULL DEFAULT now()
);
