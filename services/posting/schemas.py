"""HTTP bodies of the posting service: every request and response is a marshmallow schema.

Requests refuse unknown fields. Codes are checked against the domain's vocabulary; the rules
themselves (allowed terms, the posting level, who may act) are left to the domain so that a
refusal names the rule.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.backbone.schemas import ID, SHORT, TEXT, WORK_DATE, YEAR, Day, JsonInteger, Strict
from services.backbone.schemas import AsOfQuery as AsOfQuery  # re-exported for service.py
from services.backbone.schemas import CommandOut as CommandOut  # re-exported for service.py
from services.backbone.schemas import ListQuery as ListQuery  # re-exported for service.py
from services.backbone.schemas import PageOut as PageOut  # re-exported for service.py
from services.posting.domain import ATTENDANCE_KINDS, OUTCOMES, PLACEMENT_TYPES, POSTING_MODES, RANKS, STATUSES

ITEMS = validate.Length(min=1, max=50)


class CommandIn(Strict):
    """Every command may say why; the reason is stamped on the events it causes."""

    reason = fields.String(validate=TEXT)


class PlacementIn(CommandIn):
    placement_id = fields.String(required=True, validate=ID)
    nomination_id = fields.String(required=True, validate=ID, metadata={"description": "an approved nomination"})
    term_months = JsonInteger(required=True, validate=validate.Range(1, 120), metadata={
        "description": "one the term policy in force today allows (GET /posting/policies; built in: 12 or 24); "
                       "longer only by extension. Another is refused 422 term_not_allowed"})
    start_date = Day(required=True, validate=WORK_DATE)
    placement_type = fields.String(validate=validate.OneOf(PLACEMENT_TYPES),
                                   metadata={"description": "default: the nomination's"})
    host_unit = fields.String(validate=ID, metadata={
        "description": "the nomination's: the host unit the party committee approved (the default); another is "
                       "refused 422 host_unit_not_approved"})
    host_post = fields.String(validate=SHORT, metadata={"description": "default: the nomination's"})
    post_level = fields.String(validate=validate.OneOf(RANKS), metadata={"description": "default: the nomination's"})
    posting_mode = fields.String(validate=validate.OneOf(POSTING_MODES),
                                 metadata={"description": "lower_post 高职低挂 / same_level 平职挂 / assistant_one_up"})


class AgreementIn(CommandIn):
    tasks = fields.List(fields.String(validate=TEXT), required=True, validate=ITEMS)
    term_goals = fields.List(fields.String(validate=TEXT), required=True, validate=ITEMS)
    post_requirements = fields.List(fields.String(validate=TEXT), required=True, validate=ITEMS)
    reward_conditions = fields.List(fields.String(validate=TEXT), required=True, validate=ITEMS)
    penalty_conditions = fields.List(fields.String(validate=TEXT), required=True, validate=ITEMS)


class AmendmentIn(AgreementIn):
    reason = fields.String(required=True, validate=TEXT)


class SignatureIn(CommandIn):
    version = JsonInteger(required=True, validate=validate.Range(1, 10_000),
                          metadata={"description": "the agreement version the signer read"})


class StartIn(CommandIn):
    started_on = Day(load_default=None, validate=WORK_DATE, metadata={"description": "default: the planned start date"})


class ExtensionIn(CommandIn):
    extra_months = JsonInteger(required=True, validate=validate.Range(1, 120), metadata={
        "description": "the whole term stays within max_term_months of the term policy in force on decided_on "
                       "(built in: 36), else 422 term_exceeds_maximum"})
    reason = fields.String(required=True, validate=TEXT)
    decided_on = Day(load_default=None, validate=WORK_DATE, metadata={
        "description": "the day the extension was decided (default: today); within the running term"})


class CompletionIn(CommandIn):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES),
                            metadata={"description": "returned 回原单位 / retained 留任 / promoted 提拔任用"})
    completed_on = Day(required=True, validate=WORK_DATE)


class RecallIn(CommandIn):
    reason = fields.String(required=True, validate=TEXT)
    recalled_on = Day(required=True, validate=WORK_DATE)


class CheckInIn(CommandIn):
    checked_on = Day(required=True, validate=WORK_DATE)
    thinking = fields.String(required=True, validate=TEXT, metadata={"description": "思想状况"})
    work = fields.String(required=True, validate=TEXT, metadata={"description": "工作情况"})
    met_by = fields.String(required=True, validate=SHORT, metadata={"description": "who met the cadre"})
    notes = fields.String(load_default="", validate=validate.Length(max=4000))


class AttendanceIn(CommandIn):
    kind = fields.String(required=True, validate=validate.OneOf(ATTENDANCE_KINDS))
    from_date = Day(required=True, validate=WORK_DATE)
    to_date = Day(required=True, validate=WORK_DATE)
    notes = fields.String(load_default="", validate=validate.Length(max=4000))


class DisciplineIn(CommandIn):
    occurred_on = Day(required=True, validate=WORK_DATE)
    description = fields.String(required=True, validate=TEXT)


class TrainingIn(CommandIn):
    course = fields.String(required=True, validate=SHORT)
    provider = fields.String(required=True, validate=SHORT)
    hours = JsonInteger(required=True, validate=validate.Range(max=2000))
    completed_on = Day(required=True, validate=WORK_DATE)


class RewardOrPenaltyIn(CommandIn):
    description = fields.String(required=True, validate=TEXT)
    basis = fields.String(required=True, validate=TEXT, metadata={"description": "e.g. the assessment it rests on"})
    decided_on = Day(required=True, validate=WORK_DATE)


# A county's plan counts placements in tens; the bound keeps a typing error out of the log (and out of
# every consumer's integer columns).
PLAN_COUNT = validate.Range(max=10_000, error="at most {max} placements of one type in a year")


class PlanIn(CommandIn):
    year = JsonInteger(required=True, validate=YEAR)
    gap_filling = JsonInteger(required=True, validate=PLAN_COUNT, metadata={"description": "补短型 placements called for"})
    strength = JsonInteger(required=True, validate=PLAN_COUNT, metadata={"description": "扬长型 placements called for"})
    docking = JsonInteger(required=True, validate=PLAN_COUNT, metadata={"description": "对接型 placements called for"})


MONTHS = validate.Range(1, 120)


class PolicyIn(CommandIn):
    """A version of the term rules (挂职期限政策); the field and rule of a refusal are named in its code."""

    version = fields.String(required=True, validate=ID, metadata={"description": "never redefined once adopted"})
    effective_from = Day(required=True, validate=WORK_DATE, metadata={
        "description": "plans made, extensions decided and check-ins overdue from this day on follow it"})
    allowed_term_months = fields.List(JsonInteger(validate=MONTHS), required=True, validate=validate.Length(1, 12),
                                      metadata={"description": "挂职期限: the term lengths a placement may be planned "
                                                               "for, in months, shortest first (e.g. [12, 24])"})
    max_term_months = JsonInteger(required=True, validate=MONTHS, metadata={
        "description": "延期后最长期限: the longest a term may run with extensions, in months (e.g. 36)"})
    check_in_days = JsonInteger(required=True, validate=validate.Range(1, 366), metadata={
        "description": "跟踪督查间隔: days a running placement may go without a check-in before "
                       "posting.CheckInOverdue (e.g. 90)"})


class PolicyOut(Schema):
    version = fields.String()
    effective_from = fields.Date()
    allowed_term_months = fields.List(fields.Integer())
    max_term_months = fields.Integer()
    check_in_days = fields.Integer()
    label = fields.String(metadata={"description": "the rules in Chinese"})
    in_force = fields.Boolean(metadata={"description": "the version in force today (or on as_of's day)"})


class PolicyPageOut(PageOut):
    items = fields.List(fields.Nested(PolicyOut), metadata={
        "description": "the built-in default first (its version names a deployment's own check-in interval), "
                       "then every adopted version in order"})


class PlacementQuery(ListQuery):
    cadre_id = fields.String(load_default=None, validate=ID)
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    host_unit = fields.String(load_default=None, validate=ID)
    home_unit = fields.String(load_default=None, validate=ID)


class AgreementOut(Schema):
    version = fields.Integer()
    tasks = fields.List(fields.String())
    term_goals = fields.List(fields.String())
    post_requirements = fields.List(fields.String())
    reward_conditions = fields.List(fields.String())
    penalty_conditions = fields.List(fields.String())


class PlacementOut(Schema):
    placement_id = fields.String()
    nomination_id = fields.String()
    cadre_id = fields.String()
    cadre_rank = fields.String()
    cadre_rank_label = fields.String()
    placement_type = fields.String()
    placement_type_label = fields.String()
    home_unit = fields.String()
    host_unit = fields.String()
    host_post = fields.String()
    post_level = fields.String()
    post_level_label = fields.String()
    posting_mode = fields.String()
    posting_mode_label = fields.String()
    term_months = fields.Integer()
    start_date = fields.Date()
    status = fields.String()
    status_label = fields.String()
    agreement = fields.Nested(AgreementOut, allow_none=True)
    signatures = fields.List(fields.String())
    missing_signatures = fields.List(fields.String())
    started_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)
    last_check_in_on = fields.Date(allow_none=True)
    check_ins = fields.Integer()
    overdue_alert_open = fields.Boolean()
    attendance_reports = fields.Integer()
    discipline_incidents = fields.Integer()
    trainings = fields.Integer()
    training_hours = fields.Integer()
    rewards = fields.Integer()
    penalties = fields.Integer()
    outcome = fields.String(allow_none=True)
    outcome_label = fields.String(allow_none=True)
    recall_reason = fields.String(allow_none=True)
    ended_on = fields.Date(allow_none=True)
    version = fields.Integer()


class NominationOut(Schema):
    nomination_id = fields.String()
    cadre_id = fields.String()
    cadre_rank = fields.String()
    home_unit = fields.String()
    placement_type = fields.String()
    placement_type_label = fields.String()
    host_unit = fields.String()
    host_post = fields.String()
    post_level = fields.String()
    posting_mode = fields.String()
    posting_mode_label = fields.String()
    decided_on = fields.Date(allow_none=True, metadata={
        "description": "the party committee's decision date (null for approvals recorded before posting kept it)"})
    placement_id = fields.String(allow_none=True)
    placed = fields.Boolean()
    version = fields.Integer()


class PlanOut(Schema):
    year = fields.Integer()
    revision = fields.Integer(metadata={"description": "0 when no plan is recorded for the year"})
    planned = fields.Dict(keys=fields.String(), values=fields.Integer())
    actual = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"description": "placements planned to start in the year, by type"})
    planned_total = fields.Integer()
    actual_total = fields.Integer()


