"""What the assessment service's endpoints answer in JSON, declared for the OpenAPI document.

The views (views.py, campaigns.py) build these answers; a service test checks every answer it sees
against the served document, so a field added to a view without being declared here fails there.
"""
from __future__ import annotations

from marshmallow import Schema, fields

from services.assessment.domain import PLACEMENT_STATUSES
from services.backbone.schemas import CommandOut, PageOut

SHOWN = "only for rater groups holding at least the policy's minimum number of ballots"
SCORES = "by dimension: work_performance / public_recognition / quality_improvement"


class PolicyOut(Schema):
    version = fields.String()
    effective_from = fields.Date()
    min_group_count = fields.Integer()
    excellent_cap = fields.Float()
    min_approval_share = fields.Float()
    max_incompetent_share = fields.Float()
    democratic_weight = fields.Float()
    performance_weight = fields.Float()
    group_weights = fields.Dict(keys=fields.String(), values=fields.Float())
    dimension_weights = fields.Dict(keys=fields.String(), values=fields.Float())
    grade_points = fields.Dict(keys=fields.String(), values=fields.Float())
    grade_thresholds = fields.Dict(keys=fields.String(), values=fields.Float())
    label = fields.String(metadata={"description": "the rules in Chinese"})
    in_force = fields.Boolean(metadata={"description": "the version in force today (or on as_of's day)"})


class PolicyPageOut(PageOut):
    items = fields.List(fields.Nested(PolicyOut), metadata={"description": "the built-in default first, then"
                                                                            " every adopted version in order"})


class RosterPlacementOut(Schema):
    placement_id = fields.String()
    cadre_id = fields.String()
    host_unit = fields.String()
    home_unit = fields.String()
    placement_type = fields.String()
    started_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)


class PlacementStatusOut(Schema):
    placement_id = fields.String()
    status = fields.String(metadata={"description": "as learnt from posting: " + " / ".join(PLACEMENT_STATUSES)})
    placement = fields.Nested(RosterPlacementOut, metadata={"description": "the placement as posting announced it"})


class AssessmentSummaryOut(Schema):
    assessment_id = fields.String()
    kind = fields.String()
    year = fields.Integer()
    cadre_id = fields.String()
    placement_id = fields.String()
    host_unit = fields.String()
    status = fields.String(metadata={"description": "open / finalised"})
    final_grade = fields.String(allow_none=True, metadata={"description": "null while open"})
    path = fields.String(metadata={"description": "where to GET the whole assessment"})


class AssessmentPageOut(PageOut):
    items = fields.List(fields.Nested(AssessmentSummaryOut))


class SelfEvaluationOut(Schema):
    entry_id = fields.String()
    text = fields.String()


class RaterGroupOut(Schema):
    label = fields.String()
    ballots = fields.Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "ballots per grade"})


class DemocraticEntryOut(Schema):
    entry_id = fields.String()
    rater_group = fields.String()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": SHOWN})
    suppressed = fields.Boolean(metadata={"description": "true (and no counts) while the group is withheld"})


class DemocraticOut(Schema):
    min_group_count = fields.Integer()
    groups = fields.Dict(keys=fields.String(), values=fields.Nested(RaterGroupOut), metadata={"description": SHOWN})
    suppressed = fields.List(fields.String(), metadata={"description": "the rater groups withheld"})
    entries = fields.List(fields.Nested(DemocraticEntryOut))
    tokens_issued = fields.Dict(keys=fields.String(), values=fields.Integer(),
                                metadata={"description": "one-time ballot tokens issued per rater group"})


class ScoreEntryOut(Schema):
    entry_id = fields.String()
    dimension = fields.String()
    label = fields.String()
    score = fields.Float()
    evidence = fields.String()


class PerformanceOut(Schema):
    entries = fields.List(fields.Nested(ScoreEntryOut))
    adjustments = fields.Dict(keys=fields.String(), values=fields.Float(), metadata={"description": SCORES})
    effective = fields.Dict(keys=fields.String(), values=fields.Float(), metadata={"description": SCORES})


class PreviewOut(Schema):
    composite = fields.Float()
    proposed_grade = fields.String()
    proposed_grade_label = fields.String()


class GradeOut(Schema):
    grade = fields.String()
    label = fields.String()


class AssessmentOut(Schema):
    assessment_id = fields.String()
    kind = fields.String()
    kind_label = fields.String()
    year = fields.Integer()
    placement_id = fields.String()
    cadre_id = fields.String()
    host_unit = fields.String()
    home_unit = fields.String()
    status = fields.String(metadata={"description": "open / finalised"})
    policy_version = fields.String()
    version = fields.Integer()
    self_evaluation = fields.Nested(SelfEvaluationOut, allow_none=True)
    democratic = fields.Nested(DemocraticOut)
    performance = fields.Nested(PerformanceOut)
    preview = fields.Nested(PreviewOut, allow_none=True, metadata={
        "description": "null until every rater group meets the minimum and every dimension is scored"})
    final = fields.Nested(GradeOut, allow_none=True, metadata={"description": "null unless finalised"})


class ActorOut(Schema):
    principal = fields.String()
    role = fields.String()


class HistoryEntryOut(Schema):
    version = fields.Integer()
    type = fields.String()
    recorded_at = fields.DateTime()
    actor = fields.Nested(ActorOut)
    reason = fields.String(allow_none=True)
    policy_version = fields.String(allow_none=True)
    data = fields.Dict(metadata={"description": "the event's data; democratic counts " + SHOWN})


class HistoryOut(Schema):
    events = fields.List(fields.Nested(HistoryEntryOut))


class BallotTokensOut(CommandOut):
    rater_group = fields.String()
    tokens = fields.List(fields.String(), metadata={
        "description": "the one-time tokens, shown this once (a replayed request answers none)"})


class BallotAcceptedOut(Schema):
    accepted = fields.Boolean(metadata={"description": "always true: the ballot was counted"})


class CampaignSummaryOut(Schema):
    campaign_id = fields.String()
    year = fields.Integer()
    units = fields.List(fields.String())
    finals = fields.Dict(keys=fields.String(), values=fields.String(), metadata={"description": "team grade by unit"})


class CampaignPageOut(PageOut):
    items = fields.List(fields.Nested(CampaignSummaryOut))


class CampaignSettingsOut(Schema):
    version = fields.String()
    qualitative_weight = fields.Float()
    quantitative_weight = fields.Float()
    source_weights = fields.Dict(keys=fields.String(), values=fields.Float())
    focus_weights = fields.Dict(keys=fields.String(), values=fields.Float())
    min_respondents = fields.Integer()
    grade_thresholds = fields.Dict(keys=fields.String(), values=fields.Float())


class TeamSourceOut(Schema):
    entry_id = fields.String()
    score = fields.Float()
    label = fields.String()


class ResultUseOut(Schema):
    use = fields.String()
    label = fields.String()
    note = fields.String()


class TeamUnitOut(Schema):
    sources = fields.Dict(keys=fields.String(), values=fields.Nested(TeamSourceOut, allow_none=True),
                          metadata={"description": "democratic / survey / performance / qualitative; null until entered"})
    interview_notes = fields.Integer()
    deductions = fields.Float()
    team_grade = fields.String(allow_none=True)
    team_grade_label = fields.String(allow_none=True)
    uses = fields.List(fields.Nested(ResultUseOut))


class CampaignOut(Schema):
    campaign_id = fields.String()
    year = fields.Integer()
    agency = fields.String()
    version = fields.Integer()
    settings_version = fields.String()
    settings = fields.Nested(CampaignSettingsOut)
    survey_entry_id = fields.String(allow_none=True)
    units = fields.Dict(keys=fields.String(), values=fields.Nested(TeamUnitOut))
