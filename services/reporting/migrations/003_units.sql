-- The unit register (selection): each unit's name beside its id, versioned like every read model, so
-- that a view labels a unit with the name it had at the moment the view is asked about.
CREATE TABLE IF NOT EXISTS {schema}.units (
    unit_id  text NOT NULL,
    name     text,
    version    integer NOT NULL, valid_from timestamptz NOT NULL, valid_to timestamptz, event_id uuid NOT NULL,
    PRIMARY KEY (unit_id, version)
);

CREATE UNIQUE INDEX IF NOT EXISTS units_current ON {schema}.units (unit_id) WHERE valid_to IS NULL;
