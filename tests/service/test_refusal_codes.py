"""A refused body or query names each field with a stable rule code (`invalid_fields`), through a real selection
process: what another HR system branches on instead of marshmallow's English messages.

Runs on a database of its own (the test database's name + `_refusals`), so it can run beside the other service tests.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support.api import Api, uid
from tests.support.dates import born_years_ago
from tests.support.selection import running_selection


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from tests.conftest import sibling_db

    db = sibling_db("refusals")
    with running_selection(db, tmp_path_factory.mktemp("logs")) as running:
        yield running["api"]


def cadre(**overrides: Any) -> dict[str, Any]:
    """A cadre an HR system registers; a field set to None is left out."""
    body = {"cadre_id": uid("c"), "name": "李明", "rank": "deputy_section", "home_unit": "county-finance",
            "birth_date": "1992-05-01", "grassroots_experience": False, "fit_for_duty": True, **overrides}
    return {k: v for k, v in body.items() if v is not None}


def refused(response: requests.Response) -> list[tuple[str, str]]:
    """(field, rule) of each field a 422 validation problem names."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["rule"] == "validation" and body["errors"] and body["detail"], body
    return [(entry["field"], entry["rule"]) for entry in body["invalid_fields"]]


@pytest.mark.parametrize("overrides, expected", [
    ({"rank": "emperor"}, ("rank", "one_of")),
    ({"name": None}, ("name", "required")),
    ({"fit_for_duty": "yes"}, ("fit_for_duty", "type")),
    ({"birth_date": "1992-02-30"}, ("birth_date", "type")),
    ({"blood_type": "A"}, ("blood_type", "unknown_field")),
    ({"name": "李" * 201}, ("name", "length")),
    ({"cadre_id": "c 1001"}, ("cadre_id", "pattern")),
    ({"birth_date": "1930-01-01"}, ("birth_date", "range")),
    ({"birth_date": born_years_ago(10)}, ("birth_date", "range")),
    ({"name": "李\x00明"}, ("name", "unstorable_text")),
], ids=["bad rank", "missing name", "yes for a boolean", "30 February", "unknown field", "201 characters",
        "a blank in an id", "born before 1940", "ten years old", "NUL in a name"])
def test_a_refused_cadre_names_the_field_and_its_rule(api: Api, overrides: dict[str, Any], expected: tuple[str, str]) -> None:
    assert refused(api.post("/selection/cadres", cadre(**overrides), "hr")) == [expected]


def test_a_cadre_born_twenty_years_ago_registers_and_one_born_ten_years_ago_is_told_the_latest_birth_date(
        api: Api) -> None:
    """The youngest birth date follows the calendar (at least 16 years before today), not a fixed 2015-01-01 that
    would refuse the eighteen-year-old hires of the 2030s."""
    assert api.post("/selection/cadres", cadre(birth_date=born_years_ago(20)), "hr").status_code == 200
    young = api.post("/selection/cadres", cadre(birth_date=born_years_ago(10)), "hr").json()
    assert [(e["field"], e["rule"], e["rule_label"]) for e in young["invalid_fields"]] == [
        ("birth_date", "range", "超出允许范围")]
    assert "at least 16 years old" in young["detail"] and "年满16周岁" in young["detail"]


def test_a_date_written_another_way_is_refused_beside_every_other_error_of_the_body(api: Api) -> None:
    answer = api.post("/selection/cadres", cadre(birth_date="19920501", rank="emperor", blood_type="A"), "hr")
    assert sorted(refused(answer)) == [("birth_date", "type"), ("blood_type", "unknown_field"), ("rank", "one_of")]
    assert "birth_date: Not a valid date: write it YYYY-MM-DD." in answer.json()["detail"]


def test_a_field_sent_as_null_where_it_may_not_be_is_required(api: Api) -> None:
    assert refused(api.post("/selection/cadres", {**cadre(), "rank": None}, "hr")) == [("rank", "required")]


def test_each_entry_says_the_message_and_the_rule_in_chinese_beside_the_errors_clients_already_read(api: Api) -> None:
    body = api.post("/selection/cadres", cadre(rank="emperor"), "hr").json()

    message = ("Must be one of: clerk, deputy_section, section_chief, deputy_division, division_chief, "
               "deputy_bureau, bureau_chief.")
    assert body["errors"] == {"rank": [message]} and body["detail"] == f"rank: {message}"
    assert body["invalid_fields"] == [{"field": "rank", "rule": "one_of", "rule_label": "不在可选值之内", "message": message}]


def test_every_refused_field_of_a_body_is_named_not_only_the_first(api: Api) -> None:
    response = api.post("/selection/cadres", cadre(rank="emperor", name=None, fit_for_duty=1, blood_type="A"), "hr")

    assert sorted(refused(response)) == [("blood_type", "unknown_field"), ("fit_for_duty", "type"),
                                         ("name", "required"), ("rank", "one_of")]


def test_a_row_of_a_bulk_registration_is_named_by_its_place(api: Api) -> None:
    rows = [cadre(), cadre(rank="emperor", fit_for_duty="yes"), cadre(), cadre(home_unit=None, extra=1)]

    response = api.post("/selection/cadres/bulk", {"cadres": rows}, "hr")

    assert refused(response) == [("cadres.1.rank", "one_of"), ("cadres.1.fit_for_duty", "type"),
                                 ("cadres.3.home_unit", "required"), ("cadres.3.extra", "unknown_field")]


def test_text_that_cannot_be_stored_in_a_bulk_row_is_named_by_its_place(api: Api) -> None:
    response = api.post("/selection/cadres/bulk", {"cadres": [cadre(), cadre(name="x\ud800y")]}, "hr")

    assert refused(response) == [("cadres.1.name", "unstorable_text")]
    assert list(response.json()["errors"]) == ["cadres[1].name"]  # as `errors` has always named it


@pytest.mark.parametrize("cadres, expected", [
    ("c-1001", [("cadres", "type")]),
    ([1, "c-1001"], [("cadres.0._schema", "type"), ("cadres.1._schema", "type")]),
    ([], [("cadres", "length")]),
    (None, [("cadres", "required")]),
], ids=["a string", "numbers and text", "empty", "null"])
def test_a_bulk_body_of_the_wrong_shape_is_refused_with_a_code(api: Api, cadres: Any, expected: list[tuple[str, str]]) -> None:
    assert refused(api.post("/selection/cadres/bulk", {"cadres": cadres}, "hr")) == expected


def test_a_body_that_is_not_an_object_is_a_type_refusal_of_the_body(api: Api) -> None:
    assert refused(api.post("/selection/cadres", [cadre()], "hr")) == [("_body", "type")]


@pytest.mark.parametrize("params, expected", [
    ({"limit": 0}, ("limit", "range")),
    ({"limit": "ten"}, ("limit", "type")),
    ({"limitt": 10}, ("limitt", "unknown_field")),
    ({"as_of": "yesterday"}, ("as_of", "type")),
    ({"as_of": "2025-03-01T00:00:00\x00"}, ("as_of", "unstorable_text")),
], ids=["limit 0", "limit in words", "misspelt limit", "as_of in words", "NUL in as_of"])
def test_a_bad_query_parameter_is_named_with_its_rule(api: Api, params: dict[str, Any], expected: tuple[str, str]) -> None:
    assert refused(api.get("/selection/cadres", **params)) == [expected]


def test_a_refusal_is_the_problem_the_openapi_document_declares(api: Api) -> None:
    from openapi_schema_validator import OAS30Validator

    spec = requests.get(api.base + "/selection/openapi.json", timeout=10).json()
    declared = {**spec["components"]["schemas"]["Problem"], "additionalProperties": False}
    rows = [cadre(rank="emperor", name="李" * 201, blood_type="A"), 7, cadre(fit_for_duty=None, birth_date="1930-01-01")]

    response = api.post("/selection/cadres/bulk", {"cadres": rows}, "hr")

    OAS30Validator(declared).validate(response.json())
    assert sorted(refused(response)) == [("cadres.0.blood_type", "unknown_field"), ("cadres.0.name", "length"),
                                         ("cadres.0.rank", "one_of"), ("cadres.1._schema", "type"),
                                         ("cadres.2.birth_date", "range"), ("cadres.2.fit_for_duty", "required")]


def test_a_bulk_registration_retried_under_its_key_with_another_body_is_refused_not_replayed(api: Api) -> None:
    key, first = uid("bulk-key"), cadre()
    assert api.post("/selection/cadres/bulk", {"cadres": [first]}, "hr", **{"Idempotency-Key": key}).status_code == 200

    same = api.post("/selection/cadres/bulk", {"cadres": [first]}, "hr", **{"Idempotency-Key": key})
    changed = api.post("/selection/cadres/bulk", {"cadres": [{**first, "rank": "section_chief"}]}, "hr",
                       **{"Idempotency-Key": key})

    assert same.status_code == 200 and same.json()["results"][0]["replayed"] is True
    assert changed.status_code == 422 and changed.json()["rule"] == "idempotency_key", changed.text
    assert api.get(f"/selection/cadres/{first['cadre_id']}").json()["rank"] == "deputy_section"


@pytest.mark.parametrize("key", ["consume:3f1c0e9a-6a57-4b8e-9d0f-2f7f5d2b1a10", "check-in-overdue:placement-p-1:7"])
def test_a_key_of_the_form_the_services_give_their_own_commands_is_refused(api: Api, key: str) -> None:
    body = cadre()

    response = api.post("/selection/cadres", body, "hr", **{"Idempotency-Key": key})

    assert response.status_code == 400 and response.json()["rule"] == "idempotency_key", response.text
    assert "may not begin with" in response.json()["detail"]
    assert api.get(f"/selection/cadres/{body['cadre_id']}").status_code == 404  # nothing written


def test_a_bulk_registration_with_one_cadre_refused_by_a_rule_writes_none_and_names_the_cadre(api: Api) -> None:
    kept = cadre(reserve_cadre=True)
    assert api.post("/selection/cadres", kept, "hr").status_code == 200
    late = cadre()

    refused_bulk = api.post("/selection/cadres/bulk", {"cadres": [late, {**kept, "reserve_cadre": False}]}, "hr")

    assert refused_bulk.status_code == 422, refused_bulk.text
    problem = refused_bulk.json()
    assert problem["rule"] == "reserve_pool_change" and problem["item"] == 1
    assert problem["field"] == "cadres.1.reserve_cadre" and problem["detail"].startswith("cadres.1: ")
    assert "nothing was applied" in problem["detail"]
    assert api.get(f"/selection/cadres/{late['cadre_id']}").status_code == 404  # the first cadre was not written

    accepted = api.post("/selection/cadres/bulk", {"cadres": [late, {**kept, "home_unit": "county-education"}]}, "hr")

    assert accepted.status_code == 200, accepted.text
    assert [len(r["events"]) for r in accepted.json()["results"]] == [1, 1] and accepted.json()["changed"] == 2
    assert api.get(f"/selection/cadres/{kept['cadre_id']}").json()["home_unit"] == "county-education"
