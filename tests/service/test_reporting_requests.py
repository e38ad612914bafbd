"""What reporting refuses, and how its CSV reads in a spreadsheet: a real reporting process fed by the
stand-in sources, asked the way QA asked it."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import reporting_scenario as scenario
from tests.support.api import Api
from tests.support.reporting_system import HR, Running, running_system, wait_until_projected

FORMULA = '=HYPERLINK("http://x","y")'
LISTS = ["/reporting/cadres", "/reporting/nominations", "/reporting/placements", "/reporting/compliance/stuck-nominations",
         "/reporting/compliance/unsigned-agreements", "/reporting/compliance/overdue-check-ins",
         "/reporting/compliance/missing-assessments", "/reporting/assessments", "/reporting/teams", "/reporting/timeline"]


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, Any]]]:
    with running_system(tmp_path_factory.mktemp("logs")) as run:
        ids = scenario.ids_for("requests")
        scenario.first(run.sources, ids)
        ids["formula"] = "c-formula"
        run.sources.append("selection", "cadre-c-formula", "CadreRegistered", HR, cadre_id="c-formula", name=FORMULA,
                           rank="clerk", home_unit="@county-finance", birth_date="1990-01-01", grassroots_experience=False,
                           fit_for_duty=True, reserve_cadre=False, open_disciplinary_matter=False)
        wait_until_projected(run.db, run.sources.total)
        yield run, ids


@pytest.fixture
def api(county: tuple[Running, dict[str, Any]]) -> Api:
    return county[0].api


def refused(api: Api, path: str, **params: Any) -> dict[str, Any]:
    response = api.get(path, **params)
    assert response.status_code == 422, (path, response.status_code, response.text)
    return dict(response.json())


@pytest.mark.parametrize("path", LISTS)
def test_an_offset_too_large_for_the_database_is_refused_naming_offset(api: Api, path: str) -> None:
    problem = refused(api, path, offset="99999999999999999999")

    assert set(problem["errors"]) == {"offset"}
    assert problem["detail"].startswith("offset: ") and "1000000000" in problem["detail"]


def test_a_large_offset_within_the_limit_is_an_empty_page(api: Api) -> None:
    page = api.get("/reporting/placements", offset=1_000_000_000).json()

    assert (page["items"], page["offset"], page["total"]) == ([], 1_000_000_000, 4)


def test_the_csv_export_shows_a_formula_as_text_and_booleans_as_selection_writes_them(api: Api) -> None:
    exported = api.get("/reporting/cadres", format="csv", cadre_id="c-formula")

    [row] = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert row["name"] == "'" + FORMULA
    assert row["home_unit"] == "'@county-finance"
    assert (row["rank"], row["rank_label"]) == ("clerk", "科员")
    assert (row["fit_for_duty"], row["reserve_cadre"]) == ("true", "false")


def header_and_rows(api: Api, path: str, **params: Any) -> tuple[list[str], list[list[str]]]:
    exported = api.get(path, format="csv", **params)
    assert exported.status_code == 200, (path, exported.text)
    header, *rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")))) or [[]]
    return header, rows


def test_a_csv_export_that_matches_nothing_still_has_its_header_row(api: Api) -> None:
    header, rows = header_and_rows(api, "/reporting/cadres", q="nothingmatches")

    assert rows == []
    assert header == header_and_rows(api, "/reporting/cadres")[0]
    assert {"cadre_id", "name", "rank", "rank_label", "reserve_cadre"} <= set(header)


@pytest.mark.parametrize("path, nothing", [
    ("/reporting/placements", {"cadre_id": "nobody"}), ("/reporting/nominations", {"cadre_id": "nobody"}),
    ("/reporting/timeline", {"cadre_id": "nobody"}), ("/reporting/placements/summary", {"cadre_id": "nobody"}),
    ("/reporting/placements/plan", {"year": 1991}), ("/reporting/compliance/gap-filling", {"year": 1991}),
    ("/reporting/assessments/grades", {"year": 1991}), ("/reporting/teams/grades", {"year": 1991}),
    ("/reporting/compliance/missing-assessments", {"year": 1991, "host_unit": "nowhere"}),
])
def test_every_empty_csv_export_has_the_header_a_full_one_has(api: Api, path: str, nothing: dict[str, Any]) -> None:
    header, rows = header_and_rows(api, path, **nothing)
    full_header, _ = header_and_rows(api, path)

    assert rows == [] and header == full_header and header, path


def test_an_empty_placement_export_names_every_code_with_its_label_column(api: Api) -> None:
    header, _ = header_and_rows(api, "/reporting/placements", cadre_id="nobody")

    for code in ("placement_type", "status", "cadre_rank", "post_level", "posting_mode", "outcome"):
        assert header.index(f"{code}_label") > header.index(code), code


def test_json_shows_the_name_as_it_is(api: Api) -> None:
    [cadre] = api.get("/reporting/cadres", cadre_id="c-formula").json()["items"]

    assert (cadre["name"], cadre["reserve_cadre"]) == (FORMULA, False)


@pytest.mark.parametrize("path, verb", [
    ("/reporting/cadres", "list the cadres (干部) known from selection"),
    ("/reporting/placements", "read the placement register (挂职登记)"),
    ("/reporting/compliance", "see the four gates at a glance"),
    ("/reporting/placements/summary", "count placements by type, unit, status or year"),
    ("/reporting/timeline", "read the audit timeline: every event of every service"),
])
def test_a_role_that_may_not_read_is_told_what_it_may_not_do_in_a_sentence(api: Api, path: str, verb: str) -> None:
    response = api.get(path, as_="finance")

    assert response.status_code == 403
    assert response.json()["detail"].startswith(
        f"role 'sending_unit' may not use GET {path} ({verb}); allowed: organisation_department")


def test_an_unknown_summary_dimension_is_refused_with_the_allowed_ones(api: Api) -> None:
    problem = refused(api, "/reporting/placements/summary", by="bogus")

    assert set(problem["errors"]) == {"by"}
    assert "placement_type, host_unit, sending_unit, status, year" in problem["errors"]["by"][0]


@pytest.mark.parametrize("path, name, value, allowed", [
    ("/reporting/cadres", "rank", "general", "clerk, deputy_section, section_chief"),
    ("/reporting/placements", "status", "finished", "planned, agreement_signed, active"),
    ("/reporting/placements", "placement_type", "other", "gap_filling, strength, docking"),
    ("/reporting/nominations", "status", "pending", "recommended, inspected"),
    ("/reporting/assessments", "final_grade", "good", "excellent, competent"),
    ("/reporting/teams", "team_grade", "competent", "excellent, good, average, poor"),
])
def test_an_unknown_code_is_refused_with_the_field_and_the_allowed_codes(api: Api, path: str, name: str, value: str,
                                                                          allowed: str) -> None:
    problem = refused(api, path, **{name: value})

    assert set(problem["errors"]) == {name}
    assert allowed in problem["errors"][name][0] and problem["detail"].startswith(f"{name}: ")


def test_a_known_rank_filters(api: Api) -> None:
    clerks = api.get("/reporting/cadres", rank="clerk").json()["items"]

    assert [c["cadre_id"] for c in clerks] == ["c-formula"]


def test_a_future_as_of_answers_the_present_and_says_so(api: Api) -> None:
    asked = datetime.now(UTC)
    later = (asked + timedelta(days=5 * 365)).isoformat()  # in the future whenever the test runs (2030 was not)
    now = api.get("/reporting/nominations").json()
    future = api.get("/reporting/nominations", as_of=later).json()

    assert asked <= datetime.fromisoformat(future["as_of"]) <= datetime.now(UTC)
    assert [n["days_at_step"] for n in future["items"]] == [n["days_at_step"] for n in now["items"]]
    gates = api.get("/reporting/compliance", as_of=later).json()
    assert asked <= datetime.fromisoformat(gates["at"]) <= datetime.now(UTC)
    assert gates["selection"]["stuck"] == api.get("/reporting/compliance").json()["selection"]["stuck"]


@pytest.mark.parametrize("path, name", [("/reporting/cadres", "q"), ("/reporting/cadres", "home_unit"),
                                        ("/reporting/timeline", "actor"), ("/reporting/timeline", "correlation_id"),
                                        ("/reporting/nominations", "sending_unit")])
def test_a_nul_in_a_filter_is_refused_naming_it(api: Api, path: str, name: str) -> None:
    assert name in refused(api, path, **{name: "a\x00b"})["errors"]


def test_a_nul_in_a_path_names_nothing(api: Api) -> None:
    response = api.get("/reporting/cadres/c%00x/dossier")
    assert response.status_code == 404 and response.json()["rule"] == "not_found"


def test_every_reporting_list_declares_what_it_answers_so_a_client_can_be_generated(api: Api) -> None:
    document = api.get("/reporting/openapi.json").json()
    schemas = document["components"]["schemas"]

    lists = [(path, ops["get"]) for path, ops in document["paths"].items() if "get" in ops]
    assert len(lists) >= 18
    for path, operation in lists:
        ok = operation["responses"]["200"]
        ref = ok["content"]["application/json"]["schema"]["$ref"]
        declared = schemas[ref.rsplit("/", 1)[1]]["properties"]
        assert declared, path
        if path.removeprefix("/reporting") in {"/cadres", "/placements", "/timeline", "/compliance/stuck-nominations"}:
            assert {"items", "total", "limit", "offset", "as_of"} <= set(declared), path


@pytest.mark.parametrize("pattern", ["selection.Cadre\\", "selection.*Registere\\"])
def test_a_timeline_type_ending_in_a_backslash_is_a_type_matching_nothing(api: Api, pattern: str) -> None:
    response = api.get("/reporting/timeline", type=pattern)

    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


def test_a_timeline_type_is_matched_as_written_but_for_its_star(api: Api) -> None:
    assert api.get("/reporting/timeline", type="selection.CadreRegistered").json()["total"] > 0
    assert api.get("/reporting/timeline", type="selection.CadreRegister_d").json()["total"] == 0
    assert api.get("/reporting/timeline", type="selection.%").json()["total"] == 0
    assert api.get("/reporting/timeline", type="selection.*").json()["total"] > 0


@pytest.mark.parametrize("path", ["/reporting/placements", "/reporting/timeline", "/reporting/units"])
def test_a_csv_export_as_of_the_first_day_of_the_calendar_is_an_empty_export_as_json_is_an_empty_page(
        api: Api, path: str) -> None:
    as_of = "0001-01-01T00:00:00+08:00"  # before 0001-01-01 in UTC
    assert api.get(path, as_of=as_of).json()["items"] == []

    header, rows = header_and_rows(api, path, as_of=as_of)

    assert header and rows == []
