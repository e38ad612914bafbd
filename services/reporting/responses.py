"""What reporting's endpoints answer in JSON, declared for the OpenAPI document (with `format=csv`, a list
answers its `items` as a CSV file instead). Items are a view's rows: its columns, each code with a `_label`
column beside it; their columns are listed in docs/reporting.md."""
from __future__ import annotations

from marshmallow import Schema, fields

from services.backbone.schemas import PageOut

ROWS = "the view's rows: its columns, and a `<code>_label` column (Chinese) beside each code"
AS_OF = "the moment answered (a future `as_of` is taken as now); null: now"


class ReportPageOut(PageOut):
    items = fields.List(fields.Dict(), metadata={"description": ROWS})
    total = fields.Integer(metadata={"description": "rows matching the filters, in all pages"})
    as_of = fields.String(allow_none=True, metadata={"description": AS_OF})


class ReportRowsOut(Schema):
    items = fields.List(fields.Dict(), metadata={"description": ROWS})
    as_of = fields.String(allow_none=True, metadata={"description": AS_OF})


class PlacementSummaryOut(ReportRowsOut):
    by = fields.List(fields.String(), metadata={"description": "the dimensions counted by, as asked"})


class GradesOut(ReportRowsOut):
    by = fields.String(metadata={"description": "host_unit or sending_unit, as asked"})


class DossierOut(ReportRowsOut):
    items = fields.List(fields.Dict(), metadata={"description": "the cadre's timeline, oldest first"})
    total = fields.Integer(metadata={"description": "events in the timeline"})
    cadre = fields.Dict(allow_none=True, metadata={"description": "the cadre's row (null: known only from events)"})
    nominations = fields.List(fields.Dict())
    placements = fields.List(fields.Dict())
    assessments = fields.List(fields.Dict())


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
