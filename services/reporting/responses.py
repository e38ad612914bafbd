"""What reporting's endpoints answer in JSON, declared for the OpenAPI document (with `format=csv`, a list
answers its `items` as a CSV file instead). Items are a view's rows: its columns (declared here, each
always present, null where the read model has nothing), and a `<code>_label` column (Chinese) beside
each code that has a value; docs/reporting.md describes them."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marshmallow import Schema, fields

from services.reporting import labels

AS_OF = "the moment answered (a future `as_of` is taken as now); null: now"

# The columns of each view, in the order its query selects them (services/reporting/views.py, summaries.py).
UNIT = ("unit_id", "name")
CADRE = ("cadre_id", "name", "rank", "home_unit", "reserve_cadre", "grassroots_experience", "fit_for_duty",
         "open_disciplinary_matter", "registered_at", "changed_at", "placements")
NOMINATION = ("nomination_id", "cadre_id", "cadre_name", "sending_unit", "cadre_rank", "placement_type", "host_unit",
              "host_post", "post_level", "posting_mode", "status", "pending_step", "status_since", "days_at_step",
              "recommended_on", "eligible", "overridden", "failed_criteria", "policy_version", "decision_ref",
              "decision_date", "reason")
PLACEMENT = ("placement_id", "nomination_id", "cadre_id", "cadre_name", "cadre_rank", "placement_type", "sending_unit",
             "host_unit", "host_post", "post_level", "posting_mode", "term_months", "start_date", "year", "status",
             "agreement_version", "signatures", "fully_signed", "missing_signatures", "started_on", "ends_on",
             "last_check_in_on", "check_ins", "overdue_open", "overdue_raised_on", "days_without_check_in",
             "discipline_incidents", "trainings", "training_hours", "rewards", "penalties", "outcome", "ended_on",
             "recall_reason", "changed_at")
MISSING_ASSESSMENT = ("placement_id", "cadre_id", "cadre_name", "placement_type", "sending_unit", "host_unit", "status",
                      "started_on", "ends_on", "assessment_year", "assessment_status")
ASSESSMENT = ("assessment_id", "kind", "year", "placement_id", "cadre_id", "cadre_name", "host_unit", "sending_unit",
              "placement_type", "status", "final_grade", "proposed_grade", "composite", "policy_version",
              "min_group_count", "warnings", "reopened", "changed_at")
TEAM = ("campaign_id", "unit", "year", "team_grade", "proposed_grade", "composite", "qualitative", "quantitative",
        "settings_version", "reason", "agency", "finalised_at")
EVENT = ("recorded_at", "source", "type", "cadre_id", "units", "actor_principal", "actor_role", "actor_unit", "reason",
         "policy_version", "correlation_id", "causation_id", "command_id", "stream", "stream_version", "occurred_at",
         "event_id", "data")
PLAN = ("year", "placement_type", "planned", "actual", "running", "plan_revision", "difference")
GAP_FILLING = ("year", "gap_filling", "total", "gap_filling_share", "gap_filling_main", "plan_requires_gap_filling_main",
               "planned_gap_filling", "planned_total", "compliant")
GRADE_COUNTS = ("unit", "year", "kind", "assessments", "finalised", "excellent", "competent", "basically_competent",
                "incompetent", "ballots_excellent", "ballots_competent", "ballots_basically_competent",
                "ballots_incompetent", "groups_shown", "groups_withheld", "excellent_share")
TEAM_GRADE_COUNTS = ("year", "team_grade", "teams")
DIMENSIONS = ("placement_type", "host_unit", "sending_unit", "status", "year")

_BOOLEANS = {"reserve_cadre", "grassroots_experience", "fit_for_duty", "open_disciplinary_matter", "eligible",
             "overridden", "fully_signed", "overdue_open", "gap_filling_main", "plan_requires_gap_filling_main",
             "compliant"}
_NUMBERS = {"composite", "qualitative", "quantitative", "gap_filling_share", "excellent_share"}
_LISTS = {"failed_criteria", "signatures", "missing_signatures", "units"}
_MOMENTS = {"registered_at", "changed_at", "status_since", "recorded_at", "occurred_at", "finalised_at"}
_DAYS = {"recommended_on", "decision_date", "start_date", "started_on", "ends_on", "last_check_in_on",
         "overdue_raised_on", "ended_on"}
_TEXT = {"unit_id", "cadre_id", "name", "rank", "home_unit", "nomination_id", "cadre_name", "sending_unit", "cadre_rank",
         "placement_type", "host_unit", "host_post", "post_level", "posting_mode", "status", "pending_step",
         "policy_version", "decision_ref", "reason", "placement_id", "outcome", "recall_reason", "assessment_status",
         "assessment_id", "kind", "final_grade", "proposed_grade", "campaign_id", "unit", "team_grade",
         "settings_version", "agency", "source", "type", "actor_principal", "actor_role", "actor_unit",
         "correlation_id", "causation_id", "command_id", "stream", "event_id"}


def _column(name: str, required: bool = True) -> fields.Field[Any]:
    """A column's JSON type, from its name (every column may be null: the read models hold what events said)."""
    kind: fields.Field[Any]
    if name in _BOOLEANS:
        kind = fields.Boolean(required=required, allow_none=True)
    elif name in _NUMBERS:
        kind = fields.Float(required=required, allow_none=True)
    elif name in _LISTS:
        kind = fields.List(fields.String(), required=required, allow_none=True)
    elif name in _MOMENTS:
        kind = fields.DateTime(required=required, allow_none=True)
    elif name in _DAYS:
        kind = fields.Date(required=required, allow_none=True)
    elif name == "data":
        kind = fields.Dict(required=required, allow_none=True,
                           metadata={"description": "the event's payload, as the source recorded it"})
    elif name in _TEXT:
        kind = fields.String(required=required, allow_none=True)
    else:
        kind = fields.Integer(required=required, allow_none=True)  # counts, years, versions, days
    return kind


def row(name: str, columns: Sequence[str], status: dict[str, str] | None = None,
        tables: dict[str, dict[str, str]] = labels.COLUMN_LABELS, optional: Sequence[str] = ()) -> type[Schema]:
    """The schema of one view's row: its columns, then a label beside each code (present when the code is), a
    unit's name beside each unit (as of the moment answered; the unit's id when it has no registered name)."""
    declared: dict[str, fields.Field[Any]] = {c: _column(c, required=c not in optional) for c in columns}
    for column in labels.labelled_columns(list(columns), status, labels.with_unit_names(tables, {}))[len(columns):]:
        code = column.removesuffix("_label")
        about = {"description": f"the name of {code} as of the moment answered (the id when it has no registered name)"
                 if code in labels.UNIT_COLUMNS else f"the label of {code}"}
        declared[column] = fields.List(fields.String(), metadata=about) if code in _LISTS else fields.String(metadata=about)
    return _ours(Schema.from_dict(declared, name=name))


def page(name: str, item: type[Schema]) -> type[Schema]:
    """A page of a table view: its rows, how many match in all, the page asked for, the moment answered."""
    return _ours(Schema.from_dict({
        "items": fields.List(fields.Nested(item), required=True),
        "total": fields.Integer(required=True, metadata={"description": "rows matching the filters, in all pages"}),
        "limit": fields.Integer(required=True), "offset": fields.Integer(required=True),
        "as_of": fields.String(required=True, allow_none=True, metadata={"description": AS_OF}),
    }, name=name))


def rows(name: str, item: type[Schema], **extra: fields.Field[Any]) -> type[Schema]:
    """All the rows of a summary, with the moment answered."""
    return _ours(Schema.from_dict({"items": fields.List(fields.Nested(item), required=True),
                                   "as_of": fields.String(required=True, allow_none=True, metadata={"description": AS_OF}),
                                   **extra}, name=name))


def _ours(schema: type[Schema]) -> type[Schema]:
    schema.__module__ = __name__  # named in the OpenAPI document as reporting's (not marshmallow's) schema
    return schema


UnitRow = row("UnitRow", UNIT)
CadreRow = row("CadreRow", CADRE)
NominationRow = row("NominationRow", NOMINATION, labels.NOMINATION_STATUS)
PlacementRow = row("PlacementRow", PLACEMENT, labels.PLACEMENT_STATUS)
MissingAssessmentRow = row("MissingAssessmentRow", MISSING_ASSESSMENT, labels.PLACEMENT_STATUS)
AssessmentRow = row("AssessmentRow", ASSESSMENT, labels.ASSESSMENT_STATUS)
TeamRow = row("TeamRow", TEAM, tables=labels.TEAM_COLUMN_LABELS)
EventRow = row("EventRow", EVENT)

UnitPageOut = page("UnitPageOut", UnitRow)
CadrePageOut = page("CadrePageOut", CadreRow)
NominationPageOut = page("NominationPageOut", NominationRow)
PlacementPageOut = page("PlacementPageOut", PlacementRow)
MissingAssessmentPageOut = page("MissingAssessmentPageOut", MissingAssessmentRow)
AssessmentPageOut = page("AssessmentPageOut", AssessmentRow)
TeamPageOut = page("TeamPageOut", TeamRow)
TimelinePageOut = page("TimelinePageOut", EventRow)

PlacementSummaryOut = rows("PlacementSummaryOut", row(
    "PlacementCountRow", (*DIMENSIONS, "placements"), labels.PLACEMENT_STATUS, optional=DIMENSIONS),
    by=fields.List(fields.String(), required=True, metadata={"description": "the dimensions counted by, as asked"}))
PlanOut = rows("PlanOut", row("PlanRow", PLAN))
GapFillingOut = rows("GapFillingOut", row("GapFillingRow", GAP_FILLING))
GradesOut = rows("GradesOut", row("GradeCountRow", GRADE_COUNTS),
                 by=fields.String(required=True, metadata={"description": "host_unit or sending_unit, as asked"}))
TeamGradesOut = rows("TeamGradesOut", row("TeamGradeCountRow", TEAM_GRADE_COUNTS, tables=labels.TEAM_COLUMN_LABELS))

DossierOut = _ours(Schema.from_dict({
    "items": fields.List(fields.Nested(EventRow), required=True, metadata={"description": "the cadre's timeline, oldest first"}),
    "total": fields.Integer(required=True, metadata={"description": "events in the timeline"}),
    "cadre": fields.Nested(CadreRow, required=True, allow_none=True,
                           metadata={"description": "the cadre's row (null: known only from events)"}),
    "nominations": fields.List(fields.Nested(NominationRow), required=True),
    "placements": fields.List(fields.Nested(PlacementRow), required=True),
    "assessments": fields.List(fields.Nested(AssessmentRow), required=True),
    "as_of": fields.String(required=True, allow_none=True, metadata={"description": AS_OF}),
}, name="DossierOut"))


class GatesOut(Schema):
    year = fields.Integer()
    selection = fields.Dict(metadata={"description": "选拔关: nominations per step, stuck ones (and `stuck_days`)"})
    method = fields.Dict(metadata={"description": "方式关: plan against actual per type (`by_type`), `gap_filling`"})
    responsibility = fields.Dict(metadata={"description": "责任关: running placements, unsigned agreements, overdue"
                                                          " check-ins, assessments not opened or finalised…"})
    safeguards = fields.Dict(metadata={"description": "保障关: training, rewards, penalties, outcomes"})
    as_of = fields.String(allow_none=True, metadata={"description": "the `as_of` asked; null: now"})
    at = fields.String(metadata={"description": "the moment the counts describe"})


class SourceStatusOut(Schema):
    source = fields.String()
    cursor = fields.String(metadata={"description": "the last applied position in the source's feed"})
    updated_at = fields.String()
    events = fields.Integer(metadata={"description": "events of the source in the timeline"})


class StatusOut(Schema):
    schema = fields.String(metadata={"description": "the schema the read models are in"})
    sources = fields.List(fields.Nested(SourceStatusOut))
    parked = fields.Integer(metadata={"description": "events parked and not resolved"})
