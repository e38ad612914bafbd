"""Reporting through its HTTP API: a real reporting process fed by three stand-in sources over RabbitMQ,
with a small county's events appended to their logs."""
from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support import reporting_scenario as scenario
from tests.support.api import Api, metric, scrape
from tests.support.reporting_system import HR, Running, running_system, wait_until_projected


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, Any]]]:
    with running_system(tmp_path_factory.mktemp("logs")) as run:
        ids = scenario.ids_for("api")
        scenario.first(run.sources, ids)
        wait_until_projected(run.db, run.sources.total)
        time.sleep(0.05)
        ids["between"] = datetime.now(UTC).isoformat()
        time.sleep(0.05)
        scenario.later(run.sources, ids)
        wait_until_projected(run.db, run.sources.total)
        yield run, ids


@pytest.fixture
def api(county: tuple[Running, dict[str, Any]]) -> Api:
    return county[0].api


@pytest.fixture
def ids(county: tuple[Running, dict[str, Any]]) -> dict[str, Any]:
    return county[1]


def items(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get(path, **params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_the_placement_register_lists_every_placement_with_its_cadre_and_labels(api: Api, ids: dict[str, Any]) -> None:
    placements = {p["placement_id"]: p for p in items(api, "/reporting/placements")}

    assert set(placements) == {ids["P1"], ids["P2"], ids["P3"], ids["P4"]}
    p1 = placements[ids["P1"]]
    assert (p1["cadre_name"], p1["placement_type_label"], p1["status_label"]) == ("李明", "补短型", "挂职中")
    assert (p1["check_ins"], p1["trainings"], p1["training_hours"], p1["rewards"]) == (1, 1, 16, 1)
    assert placements[ids["P3"]]["missing_signatures"] == ["host_unit"]
    assert placements[ids["P3"]]["missing_signatures_label"] == ["接收单位"]
    assert placements[ids["P4"]]["outcome_label"] == "提拔任用"


@pytest.mark.parametrize("params, expected", [
    ({"placement_type": "gap_filling"}, {"P1", "P2"}),
    ({"host_unit": "qingshui-township"}, {"P1", "P3"}),
    ({"status": "planned"}, {"P3"}),
    ({"sending_unit": "county-finance", "year": 2025, "status": "completed"}, {"P4"}),
])
def test_the_register_filters_by_type_unit_status_and_year(api: Api, ids: dict[str, Any], params: dict, expected: set) -> None:
    found = {p["placement_id"] for p in items(api, "/reporting/placements", **params)}
    assert found == {ids[k] for k in expected}


def test_placements_are_counted_by_type_and_by_unit_and_against_the_plan(api: Api) -> None:
    by_type = {r["placement_type"]: r["placements"] for r in items(api, "/reporting/placements/summary", by="placement_type")}
    by_unit = items(api, "/reporting/placements/summary", by="host_unit,placement_type")
    plan = {r["placement_type"]: r for r in items(api, "/reporting/placements/plan", year=2025)}
    check = items(api, "/reporting/compliance/gap-filling", year=2025)

    assert by_type == {"gap_filling": 2, "strength": 1, "docking": 1}
    assert {"host_unit": "qingshui-township", "placement_type": "strength", "placements": 1,
            "placement_type_label": "扬长型", "host_unit_label": "qingshui-township"} in by_unit  # not registered here
    assert (plan["gap_filling"]["planned"], plan["gap_filling"]["actual"], plan["docking"]["difference"]) == (2, 2, 0)
    assert check == [{"year": 2025, "gap_filling": 2, "total": 4, "gap_filling_share": 0.5, "gap_filling_main": True,
                      "plan_requires_gap_filling_main": True, "planned_gap_filling": 2, "planned_total": 4,
                      "compliant": True}]


def test_the_four_gates_show_what_is_missing_or_late(api: Api) -> None:
    gates = api.get("/reporting/compliance", year=2025).json()

    assert gates["selection"] | {} == {"open": 2, "stuck": 0, "blocked": 1, "overridden": 0, "approved": 4, "ended": 0,
                                       "stuck_days": 30}
    assert gates["method"]["gap_filling"]["compliant"] is True
    responsibility = gates["responsibility"]
    assert (responsibility["unsigned_agreements"], responsibility["overdue_check_ins"]) == (1, 1)
    assert (responsibility["assessments_not_opened"], responsibility["assessments_not_finalised"]) == (0, 1)
    assert gates["safeguards"]["promoted"] == 1 and gates["safeguards"]["running_without_training"] == 1


def test_each_gate_count_opens_to_its_list(api: Api, ids: dict[str, Any]) -> None:
    overdue = items(api, "/reporting/compliance/overdue-check-ins")
    unsigned = items(api, "/reporting/compliance/unsigned-agreements")
    stuck = items(api, "/reporting/compliance/stuck-nominations", stuck_days=0)
    missing = items(api, "/reporting/compliance/missing-assessments", year=2025)

    assert [(p["placement_id"], p["days_without_check_in"]) for p in overdue] == [(ids["P2"], 75)]
    assert [p["placement_id"] for p in unsigned] == [ids["P3"]]
    assert {(n["nomination_id"], n["pending_step"]) for n in stuck} == {(ids["N5"], "inspect"), (ids["N6"], "decide")}
    assert [(m["placement_id"], m["assessment_status"]) for m in missing] == [(ids["P2"], "open")]
    assert missing[0]["assessment_status_label"] == "进行中"


def test_grade_distributions_leave_out_rater_groups_below_the_minimum(api: Api) -> None:
    rows = {r["unit"]: r for r in items(api, "/reporting/assessments/grades", year=2025)}

    qingshui = rows["qingshui-township"]
    assert (qingshui["finalised"], qingshui["excellent"], qingshui["excellent_share"]) == (1, 1, 1.0)
    # colleagues: 6 ballots (one corrected to competent) and public: a tally of 5 are shown; leaders (3) are withheld
    assert (qingshui["ballots_excellent"], qingshui["ballots_competent"], qingshui["ballots_basically_competent"]) == (3, 7, 1)
    assert (qingshui["groups_shown"], qingshui["groups_withheld"]) == (2, 1)
    assert rows["baima-township"]["finalised"] == 0


def test_assessment_and_team_results(api: Api, ids: dict[str, Any]) -> None:
    finalised = items(api, "/reporting/assessments", status="finalised")
    teams = {t["unit"]: t for t in items(api, "/reporting/teams", year=2025)}
    team_grades = items(api, "/reporting/teams/grades", year=2025)

    assert [(a["assessment_id"], a["final_grade_label"], a["cadre_name"]) for a in finalised] == [(ids["A1"], "优秀", "李明")]
    assert teams["county-education"]["team_grade_label"] == "优秀" and teams["county-finance"]["team_grade"] == "good"
    for team in teams.values():  # a team's proposed grade is a team grade: 良好, not "good"
        assert team["proposed_grade_label"] == {"excellent": "优秀", "good": "良好", "average": "一般",
                                                "poor": "较差"}[team["proposed_grade"]], team
    assert {(r["team_grade"], r["teams"]) for r in team_grades} == {("excellent", 1), ("good", 1)}


def test_the_timeline_filters_by_cadre_unit_actor_type_and_correlation(api: Api, ids: dict[str, Any]) -> None:
    by_cadre = items(api, "/reporting/timeline", cadre_id=ids["C1"], order="asc", limit=1000)
    correlated = items(api, "/reporting/timeline", correlation_id=f"corr-{ids['N1']}")
    by_actor = items(api, "/reporting/timeline", actor="pc.chen")
    signed = items(api, "/reporting/timeline", type="posting.Agreement*", unit="qingshui-township")
    ballots = items(api, "/reporting/timeline", type="assessment.BallotCast")

    assert {e["source"] for e in by_cadre} == {"selection", "posting", "assessment"}
    assert by_cadre[0]["type"] == "selection.CadreRegistered" and by_cadre[0]["type_label"] == "干部登记"
    assert [e["type"] for e in correlated][::-1] == ["selection.NominationRecommended", "selection.NominationInspected",
                                                     "selection.NominationApproved", "posting.PlacementPlanned"]
    assert len(by_actor) == 4 and all(e["actor_role"] == "party_committee" for e in by_actor)
    assert {e["actor_role_label"] for e in by_actor} == {"党委"}
    assert len(signed) == 2 + 3 + 2  # P1 drafted + 3 signatures, P3 drafted + 2 signatures
    assert ballots and all("grade" not in e["data"] for e in ballots)


def test_the_dossier_tells_a_cadres_story_across_services_in_order(api: Api, ids: dict[str, Any]) -> None:
    dossier = api.get(f"/reporting/cadres/{ids['C1']}/dossier").json()

    assert dossier["cadre"]["name"] == "李明" and dossier["cadre"]["rank_label"] == "副科"
    assert [n["status_label"] for n in dossier["nominations"]] == ["党委已审定"]
    assert [p["placement_id"] for p in dossier["placements"]] == [ids["P1"]]
    assert [a["final_grade"] for a in dossier["assessments"]] == ["excellent"]
    times = [e["recorded_at"] for e in dossier["items"]]
    assert times == sorted(times) and dossier["items"][-1]["type"] == "assessment.AssessmentFinalised"
    assert all(e["actor_principal"] for e in dossier["items"])
    assert api.get("/reporting/cadres/nobody/dossier").status_code == 404


def test_every_view_answers_as_of_a_moment(api: Api, ids: dict[str, Any]) -> None:
    before = ids["between"]

    then = {p["placement_id"]: p for p in items(api, "/reporting/placements", as_of=before)}
    now = {p["placement_id"]: p for p in items(api, "/reporting/placements")}
    assert (then[ids["P4"]]["status"], now[ids["P4"]]["status"]) == ("active", "completed")
    assert (then[ids["P2"]]["overdue_open"], now[ids["P2"]]["overdue_open"]) == (False, True)
    assert api.get("/reporting/compliance", year=2025, as_of=before).json()["responsibility"]["overdue_check_ins"] == 0
    assert items(api, "/reporting/compliance/overdue-check-ins", as_of=before) == []
    assert items(api, "/reporting/placements", as_of="2020-01-01T00:00:00+00:00") == []
    then_events = api.get("/reporting/timeline", as_of=before).json()["total"]
    assert then_events == api.get("/reporting/timeline").json()["total"] - 6


def test_an_erased_cadres_personal_data_is_gone_from_every_view_at_every_moment(api: Api, ids: dict[str, Any]) -> None:
    c3 = ids["C3"]

    for as_of in (None, ids["between"]):
        dossier = api.get(f"/reporting/cadres/{c3}/dossier", **({"as_of": as_of} if as_of else {})).json()
        shown = json.dumps(dossier, ensure_ascii=False)
        assert dossier["cadre"]["name"] == "[已删除 erased]"
        assert "张伟" not in shown and "年轻干部缺少基层经历" not in shown, as_of
    assert items(api, "/reporting/cadres", q="张伟") == []
    assert [e["type"] for e in items(api, "/reporting/timeline", cadre_id=c3)][:2] == [
        "posting.RewardDecided", "selection.PersonalDataErased"]


def test_views_page_and_export_as_csv(api: Api, ids: dict[str, Any]) -> None:
    page = api.get("/reporting/placements", limit=2, offset=2).json()
    exported = api.get("/reporting/placements", format="csv")

    assert (page["total"], len(page["items"]), page["limit"], page["offset"]) == (4, 2, 2, 2)
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert exported.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == 4 and {r["placement_type_label"] for r in rows} == {"补短型", "扬长型", "对接型"}
    assert rows[0]["signatures"].count(";") == 2 or rows[0]["signatures"] == "organisation_department;sending_unit"
    assert 'filename="placements.csv"' in exported.headers["Content-Disposition"]
    then = api.get("/reporting/placements", format="csv", as_of="2025-06-30T16:00:00+08:00")
    assert 'filename="placements-as-of-20250630T080000Z.csv"' in then.headers["Content-Disposition"]
    for path in ("/reporting/timeline", "/reporting/assessments/grades", "/reporting/compliance/overdue-check-ins",
                 f"/reporting/cadres/{ids['C1']}/dossier", "/reporting/placements/summary", "/reporting/teams"):
        response = api.get(path, format="csv")
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv"), path


def test_reading_needs_an_overseer_token_and_valid_filters(api: Api) -> None:
    import requests

    anonymous = requests.get(api.base + "/reporting/placements", timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["rule"] == "authentication"
    assert api.get("/reporting/placements", as_="finance").status_code == 403
    invalid = api.get("/reporting/placements", placement_type="other", as_of="yesterday")
    assert invalid.status_code == 422 and set(invalid.json()["errors"]) == {"placement_type", "as_of"}
    assert api.get("/reporting/placements", limit=5000).status_code == 422
    spec = requests.get(api.base + "/reporting/openapi.json", timeout=10).json()
    assert "/reporting/compliance/missing-assessments" in spec["paths"]


def test_a_malformed_event_is_parked_and_the_events_after_it_still_arrive(county: tuple[Running, dict[str, Any]]) -> None:
    run, ids = county
    bad = run.sources.append("posting", f"placement-{ids['P1']}", "PlacementStarted", placement_id=ids["P1"])
    run.sources.append("posting", f"placement-{ids['P1']}", "CheckInRecorded", placement_id=ids["P1"],
                       checked_on="2025-06-01", thinking="", work="", met_by="od.zhang", notes="")
    wait_until_projected(run.db, run.sources.total - 1)

    status = run.api.get("/reporting/status").json()
    assert status["parked"] == 1
    samples = scrape(run.api, "reporting")  # what an operator's alert watches
    assert metric(samples, "fourgates_parked_messages", consumer="reporting", source="posting") == 1
    assert metric(samples, "fourgates_consumer_lag_seconds_count", consumer="reporting", source="posting") >= 1
    assert run.api.get("/reporting/timeline", type="posting.PlacementStarted", limit=1000).json()["total"] == 3
    assert all(e["event_id"] != bad for e in items(run.api, "/reporting/timeline", limit=1000))
    p1 = next(p for p in items(run.api, "/reporting/placements") if p["placement_id"] == ids["P1"])
    assert (p1["check_ins"], p1["last_check_in_on"]) == (2, "2025-06-01")


def named_as(api: Api, unit: str, name: str) -> None:
    """Wait until reporting knows the unit by this name."""
    deadline = time.monotonic() + 30
    while [u["name"] for u in items(api, "/reporting/units", unit_id=unit)] != [name]:
        assert time.monotonic() < deadline, f"{unit} never became {name}"
        time.sleep(0.1)


def test_units_are_shown_by_the_name_they_had_at_the_moment_asked(county: tuple[Running, dict[str, Any]]) -> None:
    run, ids = county
    run.sources.append("selection", "unit-qingshui-township", "UnitRegistered", HR, unit_id="qingshui-township",
                       name="清水乡")
    run.sources.append("selection", "unit-county-finance", "UnitRegistered", HR, unit_id="county-finance", name="县财政局")
    named_as(run.api, "county-finance", "县财政局")
    time.sleep(0.05)
    before_rename = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    run.sources.append("selection", "unit-qingshui-township", "UnitRenamed", HR, unit_id="qingshui-township",
                       name="清水镇", previous_name="清水乡")
    named_as(run.api, "qingshui-township", "清水镇")

    now = {p["placement_id"]: p for p in items(run.api, "/reporting/placements")}
    then = {p["placement_id"]: p for p in items(run.api, "/reporting/placements", as_of=before_rename)}
    assert (now[ids["P1"]]["host_unit_label"], then[ids["P1"]]["host_unit_label"]) == ("清水镇", "清水乡")
    assert now[ids["P1"]]["sending_unit_label"] == "县财政局"
    assert now[ids["P2"]]["host_unit_label"] == "baima-township"  # never registered: shown as it is
    assert items(run.api, "/reporting/placements", as_of=ids["between"])[0]["sending_unit_label"] == "county-finance"
    assert items(run.api, "/reporting/units", as_of=before_rename, q="qingshui") == [
        {"unit_id": "qingshui-township", "name": "清水乡"}]


def test_every_view_and_export_labels_its_units(county: tuple[Running, dict[str, Any]]) -> None:
    run, ids = county
    named_as(run.api, "qingshui-township", "清水镇")  # the test above registered it

    by_host = items(run.api, "/reporting/placements/summary", by="host_unit")
    grades = {r["unit"]: r for r in items(run.api, "/reporting/assessments/grades", year=2025)}
    dossier = run.api.get(f"/reporting/cadres/{ids['C1']}/dossier").json()
    signed = items(run.api, "/reporting/timeline", type="posting.AgreementSigned", unit="qingshui-township")
    checked = items(run.api, "/reporting/timeline", type="posting.CheckInRecorded", actor="qingshui.wu")

    assert {r["host_unit"]: r["host_unit_label"] for r in by_host}["qingshui-township"] == "清水镇"
    assert grades["qingshui-township"]["unit_label"] == "清水镇"
    assert dossier["cadre"]["home_unit_label"] == "县财政局"
    assert {p["host_unit_label"] for p in dossier["placements"]} == {"清水镇"}
    assert {a["sending_unit_label"] for a in dossier["assessments"]} == {"县财政局"}
    assert "清水镇" in signed[0]["units_label"] and signed[0]["units_label"][signed[0]["units"].index("county-od")] == "county-od"
    assert checked[0]["actor_unit_label"] == "清水镇"
    exported = run.api.get("/reporting/placements", format="csv", host_unit="qingshui-township")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert {(r["host_unit"], r["host_unit_label"], r["sending_unit_label"]) for r in rows} == {
        ("qingshui-township", "清水镇", "县财政局")}
    units = run.api.get("/reporting/units", format="csv")
    assert 'filename="units.csv"' in units.headers["Content-Disposition"]
    assert {"unit_id": "county-finance", "name": "县财政局"} in list(csv.DictReader(io.StringIO(
        units.content.decode("utf-8-sig"))))
