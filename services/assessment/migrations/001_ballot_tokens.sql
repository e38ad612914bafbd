-- One-time ballot tokens of democratic evaluation (民主测评). Only a SHA-256 digest of each token is
-- kept, with what it may vote on; no issue or use time, no holder. Casting a ballot deletes the row
-- in the transaction that appends the ballot, so nothing is left to tie a ballot to its token.
CREATE TABLE IF NOT EXISTS {schema}.ballot_tokens (
    token_digest   bytea PRIMARY KEY,
    assessment_id  text NOT NULL,
    rater_group    text NOT NULL
);
