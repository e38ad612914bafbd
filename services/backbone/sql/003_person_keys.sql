-- Per-person keys for personal fields (names, identity numbers, free text about a person).
-- Each key is wrapped with the installation's master key; erasing a person deletes the row, which
-- makes every stored ciphertext of that person unreadable while the events and their hashes stay.
CREATE TABLE IF NOT EXISTS {schema}.person_keys (
    subject      text PRIMARY KEY,
    wrapped_key  bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {schema}.erased_subjects (
    subject     text PRIMARY KEY,
    erased_at   timestamptz NOT NULL DEFAULT now()
);
