-- Cadres whose personal data was erased (selection.PersonalDataErased). Not versioned: erased data is
-- gone for every "as of" moment, and rows that arrive later for these cadres are erased as they come.
CREATE TABLE IF NOT EXISTS {schema}.erased_cadres (
    cadre_id   text PRIMARY KEY,
    erased_at  timestamptz NOT NULL,
    event_id   uuid NOT NULL
);
