"""HTTP bodies of the selection service: every request and response is a marshmallow schema."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, TypeVar

from marshmallow import Schema, ValidationError, fields, validate

from services.backbone.commands import utcnow
from services.backbone.schemas import ID, SHORT, TEXT, WORK_DATE, Day, EventRefOut, JsonBoolean, JsonInteger, PageOut, Strict
from services.backbone.schemas import AsOfQuery as AsOfQuery  # re-exported for service.py
from services.backbone.schemas import CommandOut as CommandOut  # re-exported for service.py
from services.backbone.schemas import ListQuery as ListQuery  # re-exported for service.py
from services.selection.domain import ASSESSMENT_KIND_LABELS, GRADE_LABELS, PLACEMENT_TYPE_LABELS, POSTING_MODE_LABELS, RANKS
from services.selection.domain.units import MAX_NAME_LENGTH

YOUNGEST_AGE = 16
T = TypeVar("T")


def years_before(day: date, years: int) -> date:
    """The same day `years` earlier; 29 February becomes the 28th in a year without it."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


class BornAtLeastYearsAgo(validate.Range):
    """A birth date from 1940 on and at least `years` before the day the request is read (UTC). Not a fixed latest
    date, which would refuse the young hires of later years; kept out of the OpenAPI document (it would change
    daily) and said in the field's description. A Range, so a refusal's rule code is `range`."""

    def __init__(self, years: int) -> None:
        super().__init__(min=date(1940, 1, 1), error="must be on or after {min}")
        self.years = years

    def __call__(self, value: T) -> T:
        latest = years_before(utcnow().date(), self.years)
        if isinstance(value, date) and value > latest:
            raise ValidationError(f"must be on or before {latest.isoformat()}: a cadre is at least {self.years} "
                                  f"years old (年满{self.years}周岁)")
        return super().__call__(value)


class CadreIn(Strict):
    cadre_id = fields.String(required=True, validate=ID)
    name = fields.String(required=True, validate=SHORT)
    rank = fields.String(required=True, validate=validate.OneOf(RANKS))
    home_unit = fields.String(required=True, validate=ID)
    birth_date = Day(load_default=None, validate=BornAtLeastYearsAgo(YOUNGEST_AGE), metadata={"description": (
        f"YYYY-MM-DD, from 1940-01-01 on and at least {YOUNGEST_AGE} years before today (UTC): a cadre is at least "
        f"{YOUNGEST_AGE} (年满{YOUNGEST_AGE}周岁); refused otherwise with rule `range`. Required to register a cadre; "
        "left out of an update: the stored value (so an exported erased cadre, whose birth date is empty, imports "
        "again unchanged)")})
    grassroots_experience = JsonBoolean(required=True)
    fit_for_duty = JsonBoolean(required=True, metadata={"description": "a yes/no attestation only, never health details"})
    reserve_cadre = JsonBoolean(metadata={"description": (
        "left out: false when the cadre is first registered, the stored value on an update. An update may not "
        "change it: the organisation department adds a cadre to or removes one from the reserve pool, with a "
        "reason, at /selection/cadres/{cadre_id}/reserve-pool and /reserve-pool/removal")})
    open_disciplinary_matter = JsonBoolean(metadata={
        "description": "left out: false when the cadre is first registered, the stored value on an update"})


class CadreBulkIn(Strict):
    cadres = fields.List(fields.Nested(CadreIn), required=True, validate=validate.Length(min=1, max=1000))


class CadreBulkResultOut(Schema):
    cadre_id = fields.String()
    stream = fields.String()
    version = fields.Integer()
    replayed = fields.Boolean()
    events = fields.List(fields.Nested(EventRefOut), metadata={"description": "empty when unchanged"})


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
    effective_from = Day(required=True, validate=WORK_DATE)
    age_caps = fields.Dict(keys=fields.String(validate=validate.OneOf(RANKS)),
                           values=JsonInteger(validate=validate.Range(18, 70)), required=True)
    reserve_preferred = JsonBoolean(load_default=True)
    reason = fields.String(validate=TEXT)


class PolicyOut(Schema):
    version = fields.String()
    effective_from = fields.Date()
    age_caps = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "rank code -> the oldest age (inclusive) at which a cadre of that rank qualifies"})
    reserve_preferred = fields.Boolean()
    label = fields.String(metadata={"description": "the rules in Chinese"})
    in_force = fields.Boolean(metadata={"description": "the version in force today (or on as_of's day)"})


class PolicyPageOut(PageOut):
    items = fields.List(fields.Nested(PolicyOut), metadata={
        "description": "every adopted version in adoption order (selection has no built-in rules: before the first "
                       "adoption the list is empty and no cadre can be recommended)"})


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
    recommended_on = Day(validate=WORK_DATE, metadata={"description": (
        "the day the unit recommended the cadre (default: today; not in the future). Eligibility is judged on it: "
        "the policy in force and the cadre's age that day. Inspection and decision may not be dated before it.")})


class InspectionIn(Strict):
    findings = fields.String(required=True, validate=TEXT)
    passed = JsonBoolean(required=True)
    reason = fields.String(validate=TEXT)


class DecisionIn(Strict):
    approved = JsonBoolean(required=True)
    decision_ref = fields.String(required=True, validate=SHORT)
    decision_date = Day(required=True, validate=WORK_DATE, metadata={
        "description": "the day the committee decided: not in the future, not before the recommendation"})
    reason = fields.String(validate=TEXT)


class StrippedString(fields.String):
    """Text read without its leading and trailing blanks, so the length rule counts what is kept."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        return str(super()._deserialize(value, attr, data, **kwargs)).strip()


class UnitIn(Strict):
    unit_id = fields.String(required=True, validate=ID, metadata={
        "description": "the unit's identifier as every body names it (home_unit, host_unit…), e.g. qingshui-township"})
    name = StrippedString(required=True, validate=validate.Length(min=1, max=MAX_NAME_LENGTH), metadata={
        "description": f"the unit's name, e.g. 清水镇; leading and trailing blanks are dropped, then 1–{MAX_NAME_LENGTH} "
                       "characters. The first name registers the unit, another name renames it, the same name "
                       "changes nothing"})
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
    events = fields.List(fields.Nested(EventRefOut))


class CriterionOut(Schema):
    criterion = fields.String()
    label = fields.String()
    passed = fields.Boolean()
    hard = fields.Boolean()
    detail = fields.String()


class AssessmentResultOut(Schema):
    year = fields.Integer()
    kind = fields.String(metadata={"description": " / ".join(ASSESSMENT_KIND_LABELS)})
    grade = fields.String(metadata={"description": " / ".join(GRADE_LABELS)})
    grade_label = fields.String()
    source_event_id = fields.String(metadata={"description": "the assessment event it was recorded from"})
    assessment_id = fields.String(allow_none=True, metadata={
        "description": "the assessment; once it is finalised again after an appeal, the new grade replaces this one"})


class CadreOut(Schema):
    cadre_id = fields.String()
    name = fields.String()
    rank = fields.String()
    rank_label = fields.String()
    home_unit = fields.String()
    birth_date = fields.Date(allow_none=True, metadata={
        "description": "null once the cadre's personal data is erased (registered before v2 of "
                       "selection.CadreRegistered: still shown, as its event holds it in clear)"})
    grassroots_experience = fields.Boolean()
    fit_for_duty = fields.Boolean()
    reserve_cadre = fields.Boolean()
    open_disciplinary_matter = fields.Boolean()
    assessments = fields.List(fields.Nested(AssessmentResultOut))
    retention_reason = fields.String(allow_none=True, metadata={
        "description": "why the law requires the records to be kept (erasure is refused meanwhile); null if not"})
    erased = fields.Boolean(metadata={
        "description": "personal data erased: the name reads as a placeholder, the birth date as null"})
    version = fields.Integer()


class NominationOut(Schema):
    nomination_id = fields.String()
    cadre_id = fields.String()
    cadre_rank = fields.String(metadata={"description": "the cadre's rank when recommended"})
    sending_unit = fields.String()
    recommended_on = fields.Date()
    nominated_by = fields.String()
    inspected_by = fields.String(allow_none=True)
    decided_by = fields.String(allow_none=True)
    override_reason = fields.String(allow_none=True, metadata={
        "description": "the organisation department's reason for overriding failed hard criteria; null if none"})
    status = fields.String()
    status_label = fields.String()
    placement_type = fields.String()
    placement_type_label = fields.String()
    posting_mode = fields.String()
    posting_mode_label = fields.String()
    host_unit = fields.String()
    host_post = fields.String()
    post_level = fields.String()
    policy_version = fields.String()
    criteria = fields.List(fields.Nested(CriterionOut))
    blocked = fields.Boolean()
    version = fields.Integer()


class UnitOut(Schema):
    unit_id = fields.String()
    name = fields.String()
    version = fields.Integer()


class CadrePageOut(PageOut):
    items = fields.List(fields.Nested(CadreOut))


class NominationPageOut(PageOut):
    items = fields.List(fields.Nested(NominationOut))


class UnitPageOut(PageOut):
    items = fields.List(fields.Nested(UnitOut), metadata={"description": "sorted by unit_id"})


GRADES = list(GRADE_LABELS)
