-- Which nominations each cadre has: lets a recommendation check "one open nomination per cadre" by
-- folding only that cadre's nomination streams instead of every nomination in the log. Derived from
-- the log (rebuilt below from every NominationRecommended), written in the transaction that appends
-- the recommendation, under the per-cadre advisory lock the recommendation already takes.
CREATE TABLE IF NOT EXISTS {schema}.cadre_nominations (
    nomination_id  text PRIMARY KEY,
    cadre_id       text NOT NULL
);
CREATE INDEX IF NOT EXISTS cadre_nominations_by_cadre ON {schema}.cadre_nominations (cadre_id);
INSERT INTO {schema}.cadre_nominations (nomination_id, cadre_id)
SELECT data->>'nomination_id', data->>'cadre_id' FROM {schema}.events
 WHERE type = 'selection.NominationRecommended'
ON CONFLICT DO NOTHING;
