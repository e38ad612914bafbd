"""HTTP bodies of the selection service: every request and response is a marshmallow schema."""
from __future__ import annotations

from datetime import date

from marshmallow import Schema, fields, validate

from services.backbone.schemas import ID, SHORT, TEXT, WORK_DATE, JsonBoolean, JsonInteger, Strict
from services.backbone.schemas import AsOfQuery as AsOfQuery  # re-exported for service.py
from services.backbone.schemas import CommandOut as CommandOut  # re-exported for service.py
from services.backbone.schemas import ListQuery as ListQuery  # re-exported for service.py
from services.backbone.schemas import PageOut as PageOut  # re-exported for service.py
from services.selection.domain import GRADE_LABELS, PLACEMENT_TYPE_LABELS, POSTING_MODE_LABELS, RANKS


class CadreIn(Strict):
    cadre_id = fields.String(required=True, validate=ID)
    name = fields.String(required=True, validate=SHORT)
    rank = fields.String(required=True, validate=validate.OneOf(RANKS))
    home_unit = fields.String(required=True, validate=ID)
    birth_date = fields.Date(required=True, validate=validate.Range(min=date(1940, 1, 1), max=date(2015, 1, 1)))
    grassroots_experience = JsonBoolean(required=True)
    fit_for_duty = JsonBoolean(required=True, metadata={"description": "a yes/no attestation only, never health details"})
    reserve_cadre = JsonBoolean(load_default=False)
    open_disciplinary_matter = JsonBoolean(load_default=False)


class CadreBulkIn(Strict):
    cadres = fields.List(fields.Nested(CadreIn), required=True, validate=validate.Length(min=1, max=1000))


class CadreBulkResultOut(Schema):
    cadre_id = fields.String()
    stream = fields.String()
    version = fields.Integer()
    replayed = fields.Boolean()
    events = fields.List(fields.Dict(), metadata={"description": "as in a command's result; empty when unchanged"})


class CadreBulkOut(Schema):
    results = fields.List(fields.Nested(CadreBulkResultOut), metadata={"description": "one per cadre, in order"})
    changed = fields.Integer(metadata={"description": "cadres registered or updated by this request"})


class CadreCsvIn(Strict):
    csv = fields.String(required=True, validate=validate.Length(min=1, max=1_000_000), metadata={
        "description": "the CSV file: a header naming the CadreIn columns (cadre_id, name, rank, home_unit, birth_date, "
                       "grassroots_experience, fit_for_duty, reserve_cadre, open_disciplinary_matter), then one cadre per "
                       "row; the export's rank_label and erased columns are accepted and ignored. Or send the file itself "
                       "as text/csv."})
    reason = fields.String(validate=TEXT, metadata={"description": "why, recorded on every event the import causes"})


class ReasonIn(Strict):
    reason = fields.String(required=True, validate=TEXT)


class PolicyIn(Strict):
    version = fields.String(required=True, validate=ID)
    effective_from = fields.Date(required=True, validate=WORK_DATE)
    age_caps = fields.Dict(keys=fields.String(validate=validate.OneOf(RANKS)),
                           values=JsonInteger(validate=validate.Range(18, 70)), required=True)
    reserve_preferred = JsonBoolean(load_default=True)
    reason = fields.String(validate=TEXT)


class NominationIn(Strict):
    nomination_id = fields.String(required=True, validate=ID)
    cadre_id = fields.String(required=True, validate=ID)
    placement_type = fields.String(required=True, validate=validate.OneOf(list(PLACEMENT_TYPE_LABELS)),
                                   metadata={"description": "gap_filling 补短型 / strength 扬长型 / docking 对接型"})
    host_unit = fields.String(required=True, validate=ID)
    host_post = fields.String(required=True, validate=SHORT)
    post_level = fields.String(required=True, validate=validate.OneOf(RANKS))
    posting_mode = fields.String(required=True, validate=validate.OneOf(list(POSTING_MODE_LABELS)),
                                 metadata={"description": "lower_post 高职低挂 / same_level 平职挂 / assistant_one_up"})
    reason = fields.String(required=True, validate=TEXT)


class InspectionIn(Strict):
    findings = fields.String(required=True, validate=TEXT)
    passed = JsonBoolean(required=True)
    reason = fields.String(validate=TEXT)


class DecisionIn(Strict):
    approved = JsonBoolean(required=True)
    decision_ref = fields.String(required=True, validate=SHORT)
    decision_date = fields.Date(required=True, validate=WORK_DATE)
    reason = fields.String(validate=TEXT)


class FeedQuery(Strict):
    after = fields.String(load_default="", metadata={"description": "cursor token of the last event seen"})
    limit = fields.Integer(load_default=200, validate=validate.Range(1, 1000))


class CsvRowOut(Schema):
    line = fields.Integer()
    cadre_id = fields.String()
    outcome = fields.String(metadata={"description": "registered, updated or unchanged"})


class CsvImportOut(Schema):
    rows = fields.Integer()
    registered = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    replayed = fields.Boolean(metadata={"description": "true when an Idempotency-Key retry returned the first result"})
    results = fields.List(fields.Nested(CsvRowOut))
    events = fields.List(fields.Dict())


class CriterionOut(Schema):
    criterion = fields.String()
    label = fields.String()
    passed = fields.Boolean()
    hard = fields.Boolean()
    detail = fields.String()


class CadreOut(Schema):
    cadre_id = fields.String()
    name = fields.String()
    rank = fields.String()
    rank_label = fields.String()
    home_unit = fields.String()
    birth_date = fields.Date()
    grassroots_experience = fields.Boolean()
    fit_for_duty = fields.Boolean()
    reserve_cadre = fields.Boolean()
    open_disciplinary_matter = fields.Boolean()
    assessments = fields.List(fields.Dict())
    version = fields.Integer()


class NominationOut(Schema):
    nomination_id = fields.String()
    cadre_id = fields.String()
    status = fields.String()
    status_label = fields.String()
    placement_type = fields.String()
    placement_type_label = fields.String()
    posting_mode = fields.String()
    posting_mode_label = fields.String()
    host_unit = fields.String()
    host_post = fields.String()
    post_level = fields.String()
    policy_version = fields.String(allow_none=True)
    criteria = fields.List(fields.Nested(CriterionOut))
    blocked = fields.Boolean()
    version = fields.Integer()


GRADES = list(GRADE_LABELS)
