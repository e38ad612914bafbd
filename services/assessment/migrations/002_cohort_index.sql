-- Each assessment's cohort (host unit and year) and its final grade while finalised: lets finalisation
-- check the cohort's excellent cap without folding every assessment in the log. Derived from the log
-- (rebuilt below), written in the transaction that appends AssessmentOpened, AssessmentFinalised or
-- AssessmentReopened; finalisations of one cohort are serialised by the cohort's advisory lock.
CREATE TABLE IF NOT EXISTS {schema}.cohort_assessments (
    assessment_id  text PRIMARY KEY,
    host_unit      text NOT NULL,
    year           integer NOT NULL,
    final_grade    text
);
CREATE INDEX IF NOT EXISTS cohort_assessments_by_cohort ON {schema}.cohort_assessments (host_unit, year);
INSERT INTO {schema}.cohort_assessments (assessment_id, host_unit, year, final_grade)
SELECT o.data->>'assessment_id', o.data->>'host_unit', (o.data->>'year')::integer,
       (SELECT CASE WHEN l.type = 'assessment.AssessmentFinalised' THEN l.data->>'final_grade' END
          FROM {schema}.events l
         WHERE l.stream = o.stream AND l.type IN ('assessment.AssessmentFinalised', 'assessment.AssessmentReopened')
         ORDER BY l.version DESC LIMIT 1)
  FROM {schema}.events o
 WHERE o.type = 'assessment.AssessmentOpened'
ON CONFLICT DO NOTHING;
