"""The rule code of every refused field: what another system branches on when a body or query does not fit."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.backbone.problems import validation_problem
from services.backbone.refusals import RULE_LABELS, dotted, invalid_fields, leaves, unstorable_text_at
from services.backbone.schemas import ID, Day, JsonBoolean, JsonInteger, Strict


def even(value: int) -> None:
    if value % 2:
        raise ValidationError("pairs come in even numbers")


class RowIn(Strict):
    row_id = fields.String(required=True, validate=ID)
    rank = fields.String(required=True, validate=validate.OneOf(["clerk", "deputy_section"]))
    name = fields.String(validate=validate.Length(min=1, max=5))
    age = JsonInteger(validate=validate.Range(18, 70))
    pairs = JsonInteger(validate=even)
    born = Day()
    fit = JsonBoolean()


class BulkIn(Strict):
    rows = fields.List(fields.Nested(RowIn), required=True, validate=validate.Length(min=1, max=3))
    caps = fields.Dict(keys=fields.String(validate=validate.OneOf(["clerk"])),
                       values=JsonInteger(validate=validate.Range(18, 70)))
    tags = fields.List(fields.String(validate=validate.Length(max=3)))
    lead = fields.Nested(RowIn)


class PeriodIn(Strict):
    start = JsonInteger(required=True)
    end = JsonInteger(required=True)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["end"] < data["start"]:
            raise ValidationError("the end comes before the start")


def refusal(schema: Schema, data: Any) -> list[tuple[str, str]]:
    """(field, rule) of each refused field when `schema` loads `data`."""
    with pytest.raises(ValidationError) as caught:
        schema.load(data)
    return [(f["field"], f["rule"]) for f in invalid_fields(schema, data, caught.value.messages)]


ROW = {"row_id": "r-1", "rank": "clerk"}


@pytest.mark.parametrize("data, expected", [
    ({"rank": "clerk"}, ("row_id", "required")),
    ({**ROW, "rank": None}, ("rank", "required")),
    ({**ROW, "rank": "emperor"}, ("rank", "one_of")),
    ({**ROW, "row_id": "r 1"}, ("row_id", "pattern")),
    ({**ROW, "name": "王小明的名字"}, ("name", "length")),
    ({**ROW, "age": 12}, ("age", "range")),
    ({**ROW, "age": "12"}, ("age", "type")),
    ({**ROW, "fit": "yes"}, ("fit", "type")),
    ({**ROW, "born": "2025-02-31"}, ("born", "type")),
    ({**ROW, "born": "20250301"}, ("born", "type")),  # the project's own check: dates are written YYYY-MM-DD
    ({**ROW, "pairs": 3}, ("pairs", "invalid")),  # a custom validator
    ({**ROW, "blood_type": "A"}, ("blood_type", "unknown_field")),
], ids=lambda v: str(v) if isinstance(v, tuple) else "")
def test_each_refused_field_is_named_with_the_rule_it_broke(data: dict[str, Any], expected: tuple[str, str]) -> None:
    assert refusal(RowIn(), data) == [expected]


def test_the_rows_of_a_bulk_body_are_named_by_their_place() -> None:
    data = {"rows": [ROW, {**ROW, "rank": "emperor", "x": 1}], "caps": {"emperor": 99, "clerk": "old"},
            "tags": ["ok", "long"], "lead": {"row_id": "r 2"}}
    assert sorted(refusal(BulkIn(), data)) == [
        ("caps.clerk.value", "type"), ("caps.emperor.key", "one_of"), ("caps.emperor.value", "range"),
        ("lead.rank", "required"), ("lead.row_id", "pattern"),
        ("rows.1.rank", "one_of"), ("rows.1.x", "unknown_field"), ("tags.1", "length")]


@pytest.mark.parametrize("rows, expected", [
    ("rows", [("rows", "type")]),
    ({"row_id": "r-1"}, [("rows", "type")]),
    ([1, "two"], [("rows.0._schema", "type"), ("rows.1._schema", "type")]),
    ([], [("rows", "length")]),
    ([ROW] * 4, [("rows", "length")]),
    (None, [("rows", "required")]),
], ids=["a string", "an object", "numbers and text", "empty", "too many", "null"])
def test_a_list_of_rows_of_the_wrong_shape_is_a_type_or_length_refusal(rows: Any, expected: list[tuple[str, str]]) -> None:
    assert refusal(BulkIn(), {"rows": rows}) == expected


def test_a_rule_across_fields_is_invalid_on_the_object_itself() -> None:
    assert refusal(PeriodIn(), {"start": 2025, "end": 2024}) == [("_schema", "invalid")]


def test_without_a_schema_only_what_the_message_itself_says_has_a_code_of_its_own() -> None:
    found = invalid_fields(None, None, {"limitt": ["Unknown field."], "rank": ["Must be one of: clerk."]})
    assert [(f["field"], f["rule"]) for f in found] == [("limitt", "unknown_field"), ("rank", "invalid")]


def test_each_entry_carries_the_message_and_the_rule_in_chinese() -> None:
    data = {**ROW, "rank": "emperor"}
    with pytest.raises(ValidationError) as caught:
        RowIn().load(data)
    assert invalid_fields(RowIn(), data, caught.value.messages) == [{
        "field": "rank", "rule": "one_of", "rule_label": "不在可选值之内",
        "message": "Must be one of: clerk, deputy_section."}]


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                    max_leaves=20)
ROW_LIKE = st.fixed_dictionaries({}, optional={name: JSON for name in RowIn().fields}) | JSON
BULK_LIKE = st.fixed_dictionaries({}, optional={"rows": st.lists(ROW_LIKE, max_size=5) | JSON, "caps": JSON, "tags": JSON,
                                                "lead": ROW_LIKE, "extra": JSON})


@settings(max_examples=300, deadline=None, database=None)
@given(data=BULK_LIKE)
def test_any_body_at_all_gets_one_known_code_per_message_and_never_an_exception(data: dict[str, Any]) -> None:
    try:
        BulkIn().load(data)
    except ValidationError as exc:
        found = invalid_fields(BulkIn(), data, exc.messages)
        assert [f["field"] for f in found] == [dotted(path) for path, _ in leaves(exc.messages)]
        assert {f["rule"] for f in found} <= set(RULE_LABELS)


def test_odd_messages_are_read_as_they_come() -> None:
    assert [(f["field"], f["rule"]) for f in invalid_fields(RowIn(), [1], ["top", {"q": 3}, None])] == [
        ("0", "invalid"), ("1.q", "invalid"), ("2", "invalid")]


def test_the_detail_names_each_field_with_its_messages_as_before() -> None:
    problem = validation_problem({"rows": {1: {"rank": ["Must be one of: clerk."], "x": ["Unknown field."]}},
                                  "name": ["Not a valid string.", "Length must be between 1 and 5."]})
    assert problem.detail == ("rows.1.rank: Must be one of: clerk.; rows.1.x: Unknown field.; "
                              "name: Not a valid string.; Length must be between 1 and 5.")
    assert [f["rule"] for f in problem.extra["invalid_fields"]] == ["invalid", "unknown_field", "invalid", "invalid"]


@pytest.mark.parametrize("value, where", [
    ({"name": "ok", "tasks": ["fine", "a\x00b"]}, ("tasks", 1)),
    ({"rows": [{"name": "x\ud800y"}]}, ("rows", 0, "name")),
    ({"a\x00": 1}, ()),
    ({"name": "李明", "tasks": [], "n": 1}, None),
])
def test_text_that_cannot_be_stored_is_found_where_it_is(value: Any, where: tuple[Any, ...] | None) -> None:
    assert unstorable_text_at(value) == where
