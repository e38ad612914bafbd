"""Query parameters of reporting's endpoints: every view pages, filters, answers as of a moment, and
exports CSV (`format=csv`, all matching rows unless `limit` says otherwise).

Coded filters accept the codes the sources speak (labels.py holds reporting's copy of them), so a
misspelt code is refused with the allowed ones rather than answered with an empty list."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import RAISE, Schema, fields, post_load, validate

from services.reporting import labels
from services.reporting.summaries import PLACEMENT_DIMENSIONS

TYPES = list(labels.PLACEMENT_TYPE)
PLACEMENT_STATUSES = list(labels.PLACEMENT_STATUS)
NOMINATION_STATUSES = list(labels.NOMINATION_STATUS)
RANKS = list(labels.RANK)
GRADES = list(labels.GRADE)
TEAM_GRADES = list(labels.TEAM_GRADE)
KINDS = list(labels.KIND)
ASSESSMENT_STATUSES = list(labels.ASSESSMENT_STATUS)
SOURCES = list(labels.SOURCE)
DIMENSION = "|".join(PLACEMENT_DIMENSIONS)
UNIT = validate.Length(min=1, max=200)
MAX_OFFSET = 1_000_000_000  # past every view's rows; beyond bigint PostgreSQL would fail the query instead
YEAR = validate.Range(1990, 2100)


class Strict(Schema):
    class Meta:
        unknown = RAISE


class Moment(Strict):
    as_of = fields.AwareDateTime(load_default=None, metadata={
        "description": "answer with the state as recorded at this moment (ISO timestamp with zone); a moment in "
                       "the future answers the present, and the answer's `as_of` says which moment that was"})

    @post_load
    def no_later_than_now(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Nothing is recorded after now, so a future moment is now (days waited, this year, … count from it)."""
        now = datetime.now(UTC)
        if data.get("as_of") is not None and data["as_of"] > now:
            data["as_of"] = now
        return data


class AsOf(Moment):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]),
                           metadata={"description": "csv: the same rows as a CSV file (UTF-8 with BOM)"})


class Page(AsOf):
    limit = fields.Integer(load_default=None, validate=validate.Range(1, 100_000), metadata={
        "description": "rows per page: default 100 (at most 1000) as JSON; CSV exports every row by default"})
    offset = fields.Integer(load_default=0, validate=validate.Range(0, MAX_OFFSET),
                            metadata={"description": "rows to skip"})


class CadreQuery(Page):
    cadre_id = fields.String(validate=UNIT)
    home_unit = fields.String(validate=UNIT)
    rank = fields.String(validate=validate.OneOf(RANKS))
    reserve_cadre = fields.Boolean()
    q = fields.String(validate=UNIT, metadata={"description": "part of the name or id"})


class UnitQuery(Page):
    unit_id = fields.String(validate=UNIT)
    q = fields.String(validate=UNIT, metadata={"description": "part of the name or id"})


class NominationQuery(Page):
    status = fields.String(validate=validate.OneOf(NOMINATION_STATUSES))
    sending_unit = fields.String(validate=UNIT)
    host_unit = fields.String(validate=UNIT)
    placement_type = fields.String(validate=validate.OneOf(TYPES))
    cadre_id = fields.String(validate=UNIT)
    pending_step = fields.String(validate=validate.OneOf(list(labels.STEP)))


class StuckQuery(NominationQuery):
    stuck_days = fields.Integer(load_default=30, validate=validate.Range(0, 3650),
                                metadata={"description": "a nomination waiting at its step this many days is stuck"})


class PlacementFilters(Page):
    placement_type = fields.String(validate=validate.OneOf(TYPES))
    host_unit = fields.String(validate=UNIT)
    sending_unit = fields.String(validate=UNIT)


class PlacementQuery(PlacementFilters):
    status = fields.String(validate=validate.OneOf(PLACEMENT_STATUSES))
    year = fields.Integer(validate=YEAR, metadata={"description": "year the placement starts"})
    cadre_id = fields.String(validate=UNIT)


class PlacementSummaryQuery(PlacementQuery):
    by = fields.String(load_default="placement_type", validate=validate.Regexp(
        f"^({DIMENSION})(,({DIMENSION}))?$",
        error=f"Must be one or two of {', '.join(PLACEMENT_DIMENSIONS)}, separated by a comma."),
        metadata={"description": "one or two of placement_type, host_unit, sending_unit, status, year (comma-separated)"})


class YearQuery(AsOf):
    year = fields.Integer(load_default=None, validate=YEAR)


class MissingQuery(PlacementFilters):
    year = fields.Integer(load_default=None, validate=YEAR,
                          metadata={"description": "assessment year (default: the year of as_of, or this year)"})


class GatesQuery(Moment):
    year = fields.Integer(load_default=None, validate=YEAR)
    stuck_days = fields.Integer(load_default=30, validate=validate.Range(0, 3650))


class AssessmentQuery(Page):
    host_unit = fields.String(validate=UNIT)
    sending_unit = fields.String(validate=UNIT)
    year = fields.Integer(validate=YEAR)
    kind = fields.String(validate=validate.OneOf(KINDS))
    status = fields.String(validate=validate.OneOf(ASSESSMENT_STATUSES))
    final_grade = fields.String(validate=validate.OneOf(GRADES))
    cadre_id = fields.String(validate=UNIT)


class GradeQuery(AsOf):
    year = fields.Integer(load_default=None, validate=YEAR)
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    unit = fields.String(load_default=None, validate=UNIT)
    by = fields.String(load_default="host_unit", validate=validate.OneOf(["host_unit", "sending_unit"]))


class TeamQuery(Page):
    year = fields.Integer(validate=YEAR)
    unit = fields.String(validate=UNIT)
    campaign_id = fields.String(validate=UNIT)
    team_grade = fields.String(validate=validate.OneOf(TEAM_GRADES))


class TimelineQuery(Page):
    cadre_id = fields.String(validate=UNIT)
    unit = fields.String(validate=UNIT, metadata={"description": "a unit the event concerns or its actor belongs to"})
    actor = fields.String(validate=UNIT, metadata={"description": "principal who caused the event"})
    role = fields.String(validate=UNIT)
    type = fields.String(validate=UNIT, metadata={"description": "event type, or a prefix ending in '*' (posting.*)"})
    source = fields.String(validate=validate.OneOf(SOURCES))
    correlation_id = fields.String(validate=UNIT)
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()
    order = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))


class DossierQuery(AsOf):
    pass
