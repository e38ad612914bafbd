-- Reporting's read models. Every entity table is temporal: each change adds a version valid from the
-- source event's recorded_at until the next version's (valid_to NULL = current), so any query can
-- be answered "as of" a moment. Each table is fed by exactly one source service, which keeps its
-- contents independent of how the three feeds interleave (a rebuild equals the live tables row for row).

-- selection
CREATE TABLE IF NOT EXISTS {schema}.cadres (
    cadre_id                  text NOT NULL,
    name                      text,
    rank                      text,
    home_unit                 text,
    grassroots_experience     boolean,
    fit_for_duty              boolean,
    reserve_cadre             boolean,
    open_disciplinary_matter  boolean,
    registered_at             timestamptz,
    version    integer NOT NULL, valid_from timestamptz NOT NULL, valid_to timestamptz, event_id uuid NOT NULL,
    PRIMARY KEY (cadre_id, version)
);

CREATE TABLE IF NOT EXISTS {schema}.nominations (
    nomination_id    text NOT NULL,
    cadre_id         text,
    sending_unit     text,
    cadre_rank       text,
    placement_type   text,
    host_unit        text,
    host_post        text,
    post_level       text,
    posting_mode     text,
    status           text,
    pending_step     text,
    status_since     timestamptz,
    recommended_on   date,
    eligible         boolean,
    overridden       boolean NOT NULL DEFAULT false,
    failed_criteria  text[],
    policy_version   text,
    decision_ref     text,
    decision_date    date,
    reason           text,
    version    integer NOT NULL, valid_from timestamptz NOT NULL, valid_to timestamptz, event_id uuid NOT NULL,
    PRIMARY KEY (nomination_id, version)
);

-- posting
CREATE TABLE IF NOT EXISTS {schema}.placements (
    placement_id          text NOT NULL,
    nomination_id         text,
    cadre_id              text,
    cadre_rank            text,
    placement_type        text,
    home_unit             text,
    host_unit             text,
    host_post             text,
    post_level            text,
    posting_mode          text,
    term_months           integer,
    start_date            date,
    year                  integer,
    status                text,
    agreement_version     integer,
    signatures            text[],
    fully_signed          boolean NOT NULL DEFAULT false,
    started_on            date,
    ends_on               date,
    last_check_in_on      date,
    check_ins             integer NOT NULL DEFAULT 0,
    overdue_open          boolean NOT NULL DEFAULT false,
    overdue_raised_on     date,
    days_without_check_in integer,
    discipline_incidents  integer NOT NULL DEFAULT 0,
    trainings             integer NOT NULL DEFAULT 0,
    training_hours        integer NOT NULL DEFAULT 0,
    rewards               integer NOT NULL DEFAULT 0,
    penalties             integer NOT NULL DEFAULT 0,
    outcome               text,
    ended_on              date,
    recall_reason         text,
    version    integer NOT NULL, valid_from timestamptz NOT NULL, valid_to timestamptz, event_id uuid NOT NULL,
    PRIMARY KEY (placement_id, version)
);

CREATE TABLE IF NOT EXISTS {schema}.plans (
    year         integer NOT NULL,
    gap_filling  integer NOT NULL,
    strength     integer NOT NULL,
    docking      integer NOT NULL,
    revision     integer NOT NULL,
    version    integer NOT NULL, valid_from timestamptz NOT NULL, valid_to timestamptz, event_id uuid NOT NULL,
    PRIMARY KEY (year, version)
);

-- assessment
CREATE TABLE IF NOT EXISTS {schema}.assessments (
    assessment_id    text NOT NULL,
    kind             text,
    year             integer,
    placement_id     text,
    cadre_id         text,
    host_unit        text,
    home_unit        text,
    placement_type   text,
    policy_version   text,
    min_group_count  integer,
    status           text,
    final_grade      text,
    proposed_grade   text,
    composite        double precision,
    warnings         integer NOT NULL DEFAULT 0,
    reopened         integer NOT NULL DEFAULT 0,
    version    integer NOT NULL, valid_from timestamptz NOT NULL, valid_to timestamptz, event_id uuid NOT NULL,
    PRIMARY KEY (assessment_id, version)
);

-- One democratic-evaluation entry (a ballot, a tally or a correction); `live` is false once corrected.
-- Never shown one by one: only group sums that reach the assessment's minimum count leave the service.
CREATE TABLE IF NOT EXISTS {schema}.assessment_entries (
    assessment_id        text NOT NULL,
    entry_id             text NOT NULL,
    rater_group          text,
    live                 boolean NOT NULL,
    excellent            integer NOT NULL DEFAULT 0,
    competent            integer NOT NULL DEFAULT 0,
    basically_competent  integer NOT NULL DEFAULT 0,
    incompetent          integer NOT NULL DEFAULT 0,
    version    integer NOT NULL, valid_from timestamptz NOT NULL, valid_to timestamptz, event_id uuid NOT NULL,
    PRIMARY KEY (assessment_id, entry_id, version)
);

-- Who is placed where, as the assessment service noted it (used to attribute its events to a cadre).
CREATE TABLE IF NOT EXISTS {schema}.roster (
    placement_id    text NOT NULL,
    cadre_id        text,
    host_unit       text,
    home_unit       text,
    placement_type  text,
    status          text,
    version    integer NOT NULL, valid_from timestamptz NOT NULL, valid_to timestamptz, event_id uuid NOT NULL,
    PRIMARY KEY (placement_id, version)
);

CREATE TABLE IF NOT EXISTS {schema}.campaigns (
    campaign_id       text NOT NULL,
    year              integer,
    units             text[],
    agency            text,
    settings_version  text,
    version    integer NOT NULL, valid_from timestamptz NOT NULL, valid_to timestamptz, event_id uuid NOT NULL,
    PRIMARY KEY (campaign_id, version)
);

CREATE TABLE IF NOT EXISTS {schema}.team_results (
    campaign_id       text NOT NULL,
    unit              text NOT NULL,
    year              integer,
    team_grade        text,
    proposed_grade    text,
    composite         double precision,
    qualitative       double precision,
    quantitative      double precision,
    settings_version  text,
    reason            text,
    version    integer NOT NULL, valid_from timestamptz NOT NULL, valid_to timestamptz, event_id uuid NOT NULL,
    PRIMARY KEY (campaign_id, unit, version)
);

-- The audit timeline: every event of every source, append-only, attributed to a cadre and units.
CREATE TABLE IF NOT EXISTS {schema}.timeline (
    event_id         uuid PRIMARY KEY,
    source           text NOT NULL,
    era              integer NOT NULL,
    tx_id            bigint NOT NULL,
    position         bigint NOT NULL,
    type             text NOT NULL,
    schema_version   integer NOT NULL,
    stream           text NOT NULL,
    stream_version   integer NOT NULL,
    recorded_at      timestamptz NOT NULL,
    occurred_at      timestamptz,
    actor_principal  text,
    actor_role       text,
    actor_unit       text,
    reason           text,
    policy_version   text,
    correlation_id   text,
    causation_id     text,
    command_id       text,
    cadre_id         text,
    units            text[] NOT NULL DEFAULT '{}',
    data             jsonb NOT NULL
);

-- Current versions are what most queries read; as-of queries use the primary keys and valid_from.
CREATE UNIQUE INDEX IF NOT EXISTS cadres_current ON {schema}.cadres (cadre_id) WHERE valid_to IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS nominations_current ON {schema}.nominations (nomination_id) WHERE valid_to IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS placements_current ON {schema}.placements (placement_id) WHERE valid_to IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS plans_current ON {schema}.plans (year) WHERE valid_to IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS assessments_current ON {schema}.assessments (assessment_id) WHERE valid_to IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS assessment_entries_current
    ON {schema}.assessment_entries (assessment_id, entry_id) WHERE valid_to IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS roster_current ON {schema}.roster (placement_id) WHERE valid_to IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS campaigns_current ON {schema}.campaigns (campaign_id) WHERE valid_to IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS team_results_current ON {schema}.team_results (campaign_id, unit) WHERE valid_to IS NULL;
CREATE INDEX IF NOT EXISTS nominations_cadre ON {schema}.nominations (cadre_id);
CREATE INDEX IF NOT EXISTS placements_cadre ON {schema}.placements (cadre_id);
CREATE INDEX IF NOT EXISTS assessments_cadre ON {schema}.assessments (cadre_id);

CREATE INDEX IF NOT EXISTS timeline_recorded ON {schema}.timeline (recorded_at, event_id);
CREATE INDEX IF NOT EXISTS timeline_cadre ON {schema}.timeline (cadre_id, recorded_at) WHERE cadre_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS timeline_correlation ON {schema}.timeline (correlation_id);
CREATE INDEX IF NOT EXISTS timeline_actor ON {schema}.timeline (actor_principal);
CREATE INDEX IF NOT EXISTS timeline_type ON {schema}.timeline (type);
CREATE INDEX IF NOT EXISTS timeline_units ON {schema}.timeline USING gin (units);
