-- Which issue of tokens (the entry id of its BallotTokensIssued) a token belongs to: a finalisation closes
-- the ballot, so tokens issued before it are refused even after an appeal reopens the assessment. Tokens
-- issued before this column existed hold NULL and are refused once their assessment has been finalised.
ALTER TABLE {schema}.ballot_tokens ADD COLUMN IF NOT EXISTS issued_entry_id text;
