"""Query parameters of reporting's endpoints: every view pages, filters, answers as of a moment, and
exports CSV (`format=csv`, all matching rows unless `limit` says otherwise)."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

TYPES = ["gap_filling", "strength", "docking"]
PLACEMENT_STATUSES = ["planned", "agreement_signed", "active", "extended", "completed", "recalled"]
NOMINATION_STATUSES = ["recommended", "inspected", "inspection_failed", "approved", "rejected", "withdrawn"]
GRADES = ["excellent", "competent", "basically_competent", "incompetent"]
UNIT = validate.Length(min=1, max=200)


class Strict(Schema):
    class Meta:
        unknown = RAISE


class AsOf(Strict):
    as_of = fields.AwareDateTime(load_default=None, metadata={
        "description": "answer with the state as recorded at this moment (ISO timestamp with zone)"})
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]),
                           metadata={"description": "csv: the same rows as a CSV file (UTF-8 with BOM)"})


class Page(AsOf):
    limit = fields.Integer(load_default=None, validate=validate.Range(1, 100_000), metadata={
        "description": "rows per page: default 100 (at most 1000) as JSON; CSV exports every row by default"})
    offset = fields.Integer(load_default=0, validate=validate.Range(0))


class CadreQuery(Page):
    cadre_id = fields.String(validate=UNIT)
    home_unit = fields.String(validate=UNIT)
    rank = fields.String(validate=UNIT)
    reserve_cadre = fields.Boolean()
    q = fields.String(validate=UNIT, metadata={"description": "part of the name or id"})


class NominationQuery(Page):
    status = fields.String(validate=validate.OneOf(NOMINATION_STATUSES))
    sending_unit = fields.String(validate=UNIT)
    host_unit = fields.String(validate=UNIT)
    placement_type = fields.String(validate=validate.OneOf(TYPES))
    cadre_id = fields.String(validate=UNIT)
    pending_step = fields.String(validate=validate.OneOf(["inspect", "decide"]))


class StuckQuery(NominationQuery):
    stuck_days = fields.Integer(load_default=30, validate=validate.Range(0, 3650),
                                metadata={"description": "a nomination waiting at its step this many days is stuck"})


class PlacementFilters(Page):
    placement_type = fields.String(validate=validate.OneOf(TYPES))
    host_unit = fields.String(validate=UNIT)
    sending_unit = fields.String(validate=UNIT)


class PlacementQuery(PlacementFilters):
    status = fields.String(validate=validate.OneOf(PLACEMENT_STATUSES))
    year = fields.Integer(validate=validate.Range(1990, 2100), metadata={"description": "year the placement starts"})
    cadre_id = fields.String(validate=UNIT)


class PlacementSummaryQuery(PlacementQuery):
    by = fields.String(load_default="placement_type", validate=validate.Regexp(
        r"^(placement_type|host_unit|sending_unit|status|year)(,(placement_type|host_unit|sending_unit|status|year))?$"),
        metadata={"description": "one or two of placement_type, host_unit, sending_unit, status, year (comma-separated)"})


class YearQuery(AsOf):
    year = fields.Integer(load_default=None, validate=validate.Range(1990, 2100))


class MissingQuery(PlacementFilters):
    year = fields.Integer(load_default=None, validate=validate.Range(1990, 2100),
                          metadata={"description": "assessment year (default: the year of as_of, or this year)"})


class GatesQuery(Strict):
    as_of = fields.AwareDateTime(load_default=None)
    year = fields.Integer(load_default=None, validate=validate.Range(1990, 2100))
    stuck_days = fields.Integer(load_default=30, validate=validate.Range(0, 3650))


class AssessmentQuery(Page):
    host_unit = fields.String(validate=UNIT)
    sending_unit = fields.String(validate=UNIT)
    year = fields.Integer(validate=validate.Range(1990, 2100))
    kind = fields.String(validate=validate.OneOf(["annual", "end_of_term"]))
    status = fields.String(validate=validate.OneOf(["open", "finalised"]))
    final_grade = fields.String(validate=validate.OneOf(GRADES))
    cadre_id = fields.String(validate=UNIT)


class GradeQuery(AsOf):
    year = fields.Integer(load_default=None, validate=validate.Range(1990, 2100))
    kind = fields.String(load_default=None, validate=validate.OneOf(["annual", "end_of_term"]))
    unit = fields.String(load_default=None, validate=UNIT)
    by = fields.String(load_default="host_unit", validate=validate.OneOf(["host_unit", "sending_unit"]))


class TeamQuery(Page):
    year = fields.Integer(validate=validate.Range(1990, 2100))
    unit = fields.String(validate=UNIT)
    campaign_id = fields.String(validate=UNIT)
    team_grade = fields.String(validate=validate.OneOf(["excellent", "good", "average", "poor"]))


class TimelineQuery(Page):
    cadre_id = fields.String(validate=UNIT)
    unit = fields.String(validate=UNIT, metadata={"description": "a unit the event concerns or its actor belongs to"})
    actor = fields.String(validate=UNIT, metadata={"description": "principal who caused the event"})
    role = fields.String(validate=UNIT)
    type = fields.String(validate=UNIT, metadata={"description": "event type, or a prefix ending in '*' (posting.*)"})
    source = fields.String(validate=validate.OneOf(["selection", "posting", "assessment"]))
    correlation_id = fields.String(validate=UNIT)
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()
    order = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))


class DossierQuery(AsOf):
    pass
