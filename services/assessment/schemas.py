"""HTTP bodies of the assessment service: every request is a strict marshmallow schema."""
from __future__ import annotations

from marshmallow import fields, validate

from services.assessment.domain import (
    DIMENSIONS,
    FINDING_SOURCES,
    FOCUSES,
    GRADES,
    KINDS,
    RESULT_USES,
    TEAM_GRADES,
)
from services.backbone.schemas import ID, TEXT, WORK_DATE, YEAR, Day, JsonInteger, Strict
from services.backbone.schemas import AsOfQuery as AsOfQuery  # re-exported for service.py
from services.backbone.schemas import CommandOut as CommandOut  # re-exported for service.py
from services.backbone.schemas import ListQuery as ListQuery  # re-exported for service.py

SCORE = validate.Range(0, 100)
ENTRY = validate.Regexp(r"^E[0-9]{1,9}$", error="an entry id such as 'E3'")


def _reason(required: bool = False) -> fields.String:
    return fields.String(required=required, validate=TEXT, metadata={"description": "why; stamped on the event"})


def _counts() -> fields.Dict:
    return fields.Dict(keys=fields.String(validate=validate.OneOf(GRADES)),
                       values=fields.Integer(strict=True, validate=validate.Range(0, 100_000)), required=True,
                       metadata={"description": "ballots per grade: excellent / competent / basically_competent / incompetent"})


class PolicyIn(Strict):
    version = fields.String(required=True, validate=ID)
    effective_from = Day(required=True, validate=WORK_DATE)
    min_group_count = JsonInteger(load_default=5, validate=validate.Range(1, 1000))
    excellent_cap = fields.Float(load_default=0.20)
    min_approval_share = fields.Float(load_default=2 / 3)
    max_incompetent_share = fields.Float(load_default=1 / 3)
    democratic_weight = fields.Float(load_default=0.4)
    performance_weight = fields.Float(load_default=0.6)
    group_weights = fields.Dict(keys=fields.String(validate=ID), values=fields.Float())
    dimension_weights = fields.Dict(keys=fields.String(validate=validate.OneOf(DIMENSIONS)), values=fields.Float())
    grade_points = fields.Dict(keys=fields.String(validate=validate.OneOf(GRADES)), values=fields.Float())
    grade_thresholds = fields.Dict(keys=fields.String(validate=validate.OneOf(GRADES)), values=fields.Float())
    reason = _reason()


class OpenAssessmentIn(Strict):
    placement_id = fields.String(required=True, validate=ID)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS),
                         metadata={"description": "annual 下派年度考核 / end_of_term 期满考核"})
    year = JsonInteger(required=True, validate=YEAR)
    reason = _reason()


class SelfEvaluationIn(Strict):
    text = fields.String(required=True, validate=TEXT)
    reason = _reason()


class SelfEvaluationCorrectionIn(Strict):
    corrects_entry_id = fields.String(required=True, validate=ENTRY)
    text = fields.String(required=True, validate=TEXT)
    reason = _reason(required=True)


class BallotTokensIn(Strict):
    rater_group = fields.String(required=True, validate=ID)
    count = fields.Integer(required=True, strict=True, validate=validate.Range(1, 500))
    reason = _reason()


class TokenBallotIn(Strict):
    ballot_token = fields.String(required=True, validate=validate.Length(min=16, max=100),
                                 metadata={"description": "the one-time token handed to the rater; spent on use"})
    grade = fields.String(required=True, validate=validate.OneOf(GRADES))


class PaperBallotIn(Strict):
    rater_group = fields.String(required=True, validate=ID)
    grade = fields.String(required=True, validate=validate.OneOf(GRADES))


class TallyIn(Strict):
    rater_group = fields.String(required=True, validate=ID)
    counts = _counts()
    reason = _reason()


class DemocraticCorrectionIn(Strict):
    corrects_entry_id = fields.String(required=True, validate=ENTRY)
    counts = _counts()
    reason = _reason(required=True)


class ScoreIn(Strict):
    dimension = fields.String(required=True, validate=validate.OneOf(DIMENSIONS),
                              metadata={"description": "work_performance 工作绩效 / public_recognition 群众公认程度 / "
                                                       "quality_improvement 综合素质提高程度"})
    score = fields.Float(required=True, validate=SCORE)
    evidence = fields.String(required=True, validate=TEXT)
    reason = _reason()


class ScoreCorrectionIn(Strict):
    corrects_entry_id = fields.String(required=True, validate=ENTRY)
    score = fields.Float(required=True, validate=SCORE)
    evidence = fields.String(required=True, validate=TEXT)
    reason = _reason(required=True)


class AdjustmentIn(Strict):
    dimension = fields.String(required=True, validate=validate.OneOf(DIMENSIONS))
    delta = fields.Float(required=True, validate=validate.Range(-100, 100))
    reason = _reason(required=True)


class FinaliseIn(Strict):
    final_grade = fields.String(required=True, validate=validate.OneOf(GRADES))
    reason = _reason()


class AppealIn(Strict):
    reason = _reason(required=True)


class CampaignSettingsIn(Strict):
    version = fields.String(required=True, validate=ID)
    qualitative_weight = fields.Float(load_default=0.3)
    quantitative_weight = fields.Float(load_default=0.7)
    source_weights = fields.Dict(keys=fields.String(), values=fields.Float())
    focus_weights = fields.Dict(keys=fields.String(validate=validate.OneOf(FOCUSES)), values=fields.Float())
    min_respondents = JsonInteger(load_default=5, validate=validate.Range(1, 100_000))
    grade_thresholds = fields.Dict(keys=fields.String(validate=validate.OneOf(TEAM_GRADES)), values=fields.Float())


class CampaignIn(Strict):
    campaign_id = fields.String(required=True, validate=ID)
    year = JsonInteger(required=True, validate=YEAR)
    units = fields.List(fields.String(validate=ID), required=True, validate=validate.Length(min=1, max=200))
    agency = fields.String(required=True, validate=ID,
                           metadata={"description": "the unit of the appointed third-party survey agency; not one of "
                                                  "`units` (422 agency_is_assessed_unit)"})
    settings = fields.Nested(CampaignSettingsIn, required=True)
    reason = _reason()


class TeamDemocraticIn(Strict):
    unit = fields.String(required=True, validate=ID)
    focus_scores = fields.Dict(keys=fields.String(validate=validate.OneOf(FOCUSES)),
                               values=fields.Float(validate=SCORE), required=True)
    respondents = fields.Integer(required=True, strict=True, validate=validate.Range(0, 1_000_000))
    corrects_entry_id = fields.String(load_default=None, validate=ENTRY)
    reason = _reason()


class TeamScoreIn(Strict):
    unit = fields.String(required=True, validate=ID)
    source = fields.String(required=True, validate=validate.OneOf(["performance", "qualitative"]))
    score = fields.Float(required=True, validate=SCORE)
    note = fields.String(required=True, validate=TEXT)
    corrects_entry_id = fields.String(load_default=None, validate=ENTRY)
    reason = _reason()


class InterviewNoteIn(Strict):
    unit = fields.String(required=True, validate=ID)
    focus = fields.String(required=True, validate=validate.OneOf(FOCUSES))
    note = fields.String(required=True, validate=TEXT)
    reason = _reason()


class FindingIn(Strict):
    unit = fields.String(required=True, validate=ID)
    source = fields.String(required=True, validate=validate.OneOf(FINDING_SOURCES))
    summary = fields.String(required=True, validate=TEXT)
    deduction = fields.Float(required=True, validate=SCORE)
    reason = _reason()


class SurveyReportIn(Strict):
    csv = fields.String(required=True, validate=validate.Length(min=1, max=500_000),
                        metadata={"description": "CSV with a header line `unit,score,summary`; errors name the file line"})
    revises_entry_id = fields.String(load_default=None, validate=ENTRY, metadata={
        "description": "the live report's entry id, to revise it: the units listed get new results, every other "
                       "unit keeps the earlier report's (a reason is required)"})
    reason = _reason()


class TeamFinaliseIn(Strict):
    team_grade = fields.String(required=True, validate=validate.OneOf(TEAM_GRADES))
    reason = _reason()


class ResultUseIn(Strict):
    use = fields.String(required=True, validate=validate.OneOf(RESULT_USES))
    note = fields.String(required=True, validate=TEXT)
    reason = _reason()


class AssessmentListQuery(ListQuery):
    host_unit = fields.String(load_default=None, validate=ID)
    cadre_id = fields.String(load_default=None, validate=ID)
    year = fields.Integer(load_default=None, validate=YEAR)
    status = fields.String(load_default=None, validate=validate.OneOf(["open", "finalised"]))


