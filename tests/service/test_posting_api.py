"""The method, responsibility and safeguard gates through real selection and posting processes,
real PostgreSQL and RabbitMQ: nominations approved in selection reach posting only through events.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from tests.conftest import sibling_db
from tests.support.api import Api, Samples, free_port, metric, scrape, uid
from tests.support.processes import ServiceProcess, rpc_config, throwaway_vhost

# A database of its own beside the test database (its name + `_posting`): this module drops and recreates its
# schemas, so a fixed name shared by every checkout made parallel runs break each other.
POSTING_DB = sibling_db("posting")
CHECKIN_MAX_DAYS = 30
TODAY = date.today()
TERMS = {"tasks": ["联系两个村的信访接待"], "term_goals": ["化解积案三件"], "post_requirements": ["每周在岗不少于四天"],
         "reward_conditions": ["年度考核优秀者优先使用"], "penalty_conditions": ["擅离岗位者召回"]}
CHECK_IN = {"thinking": "思想稳定", "work": "走访五户", "met_by": "镇党委书记"}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from services.backbone.migrations import ensure_database

    ensure_database(POSTING_DB)
    with psycopg.connect(POSTING_DB, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS selection CASCADE")
        conn.execute("DROP SCHEMA IF EXISTS posting CASCADE")
    logs = tmp_path_factory.mktemp("logs")
    with throwaway_vhost() as amqp_uri:
        ports = {name: free_port() for name in ("selection", "posting", "posting-2")}

        def start(module: str, service: str, name: str, **extra: str) -> ServiceProcess:
            env = {"AMQP_URI": amqp_uri, "FOURGATES_DB": POSTING_DB, "WEB_SERVER_ADDRESS": f"127.0.0.1:{ports[name]}", **extra}
            (logs / name).mkdir()
            return ServiceProcess(module, service, env, logs / name).start(http=True)  # two posting replicas

        checkins = {"FOURGATES_CHECKIN_MAX_DAYS": str(CHECKIN_MAX_DAYS), "FOURGATES_CHECKIN_SCAN_SECONDS": "0.5"}
        processes: list[ServiceProcess] = []
        try:
            processes.append(start("services.selection.service", "selection", "selection"))
            processes.append(start("services.posting.service", "posting", "posting", **checkins))
            processes.append(start("services.posting.service", "posting", "posting-2", **checkins))  # a second replica
            selection = Api(f"http://127.0.0.1:{ports['selection']}")
            policy = {"version": "county-2025", "effective_from": "2025-01-01",
                      "age_caps": {"clerk": 35, "deputy_section": 40, "section_chief": 40}, "reserve_preferred": True}
            assert selection.post("/selection/policies", policy, "od").status_code == 201
            yield {"selection": selection, "posting": Api(f"http://127.0.0.1:{ports['posting']}"), "amqp_uri": amqp_uri,
                   "posting_replicas": [Api(f"http://127.0.0.1:{ports[name]}") for name in ("posting", "posting-2")]}
        finally:
            for process in processes:
                process.stop()


@pytest.fixture
def api(running: dict[str, Any]) -> Api:
    return running["posting"]


def eventually(check: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def recommended(running: dict[str, Any], **overrides: Any) -> str:
    """A nomination recommended in selection (not yet inspected or approved)."""
    selection = running["selection"]
    cadre = {"cadre_id": uid("c"), "name": "李明", "rank": "deputy_section", "home_unit": "county-finance",
             "birth_date": "1992-05-01", "grassroots_experience": False, "fit_for_duty": True, "reserve_cadre": True}
    assert selection.post("/selection/cadres", cadre, "hr").status_code == 200
    body = {"nomination_id": uid("n"), "cadre_id": cadre["cadre_id"], "placement_type": "gap_filling",
            "host_unit": "qingshui-township", "host_post": "副镇长", "post_level": "deputy_section",
            "posting_mode": "same_level", "reason": "年轻干部缺少基层经历", "recommended_on": "2025-02-01", **overrides}
    response = selection.post("/selection/nominations", body, "finance")
    assert response.status_code == 201, response.text
    return str(body["nomination_id"])


def approved(running: dict[str, Any], **overrides: Any) -> str:
    """A nomination the party committee approved in selection, once posting has heard of it."""
    selection, nomination_id = running["selection"], recommended(running, **overrides)
    assert selection.post(f"/selection/nominations/{nomination_id}/inspection",
                          {"findings": "德才兼备", "passed": True}, "od").status_code == 200
    decided = selection.post(f"/selection/nominations/{nomination_id}/decision",
                             {"approved": True, "decision_ref": "县委〔2025〕12号", "decision_date": "2025-03-01"}, "pc")
    assert decided.status_code == 200, decided.text
    assert eventually(lambda: running["posting"].get(f"/posting/nominations/{nomination_id}").status_code == 200)
    return nomination_id


def planned(running: dict[str, Any], start: date = TODAY, term: int = 24, **body: Any) -> str:
    placement_id = uid("p")
    body = {"placement_id": placement_id, "nomination_id": approved(running), "term_months": term,
            "start_date": start.isoformat(), **body}
    response = running["posting"].post("/posting/placements", body, "od")
    assert response.status_code == 201, response.text
    return placement_id


def signed(api: Api, placement_id: str) -> None:
    assert api.post(f"/posting/placements/{placement_id}/agreement", TERMS, "od").status_code == 200
    for party in ("od", "finance", "qingshui"):
        response = api.post(f"/posting/placements/{placement_id}/agreement/signatures", {"version": 1}, party)
        assert response.status_code == 200, response.text


def active(running: dict[str, Any], **plan: Any) -> str:
    api, placement_id = running["posting"], planned(running, **plan)
    signed(api, placement_id)
    assert api.post(f"/posting/placements/{placement_id}/start", {}, "qingshui").status_code == 200
    return placement_id


def view(api: Api, placement_id: str) -> dict[str, Any]:
    response = api.get(f"/posting/placements/{placement_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def events(api: Api, stream: str | None = None) -> list[str]:
    """Event types in posting's log, straight from its table: the HTTP feed may trail a fresh commit."""
    with psycopg.connect(POSTING_DB) as conn:
        rows = conn.execute("SELECT type FROM posting.events WHERE %(s)s::text IS NULL OR stream = %(s)s"
                            " ORDER BY stream, version", {"s": stream}).fetchall()
    return [row[0] for row in rows]


def assert_refused(response: Any, status: int, rule: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["rule"] == rule and response.json()["detail"]


def test_an_approved_nomination_reaches_posting_through_events_alone(running: dict[str, Any]) -> None:
    nomination_id = approved(running)
    known = running["posting"].get(f"/posting/nominations/{nomination_id}").json()
    assert known["cadre_rank"] == "deputy_section" and known["home_unit"] == "county-finance"
    assert known["host_unit"] == "qingshui-township" and known["placed"] is False
    assert events(running["posting"], f"approved-nomination-{nomination_id}") == ["posting.NominationRecorded"]
    with psycopg.connect(POSTING_DB) as conn:
        caused_by = conn.execute("SELECT metadata->>'causation_id', metadata->>'command_id' FROM posting.events"
                                 " WHERE stream = %s", (f"approved-nomination-{nomination_id}",)).fetchone()
    assert caused_by is not None and caused_by[1] == f"consume:{caused_by[0]}"


def test_placing_a_nomination_without_approval_is_refused_and_writes_nothing(running: dict[str, Any]) -> None:
    api, nomination_id = running["posting"], recommended(running)
    before = events(api)
    refused = api.post("/posting/placements", {"placement_id": uid("p"), "nomination_id": nomination_id,
                                               "term_months": 24, "start_date": TODAY.isoformat()}, "od")
    assert_refused(refused, 404, "nomination_not_approved")
    assert events(api) == before


def test_a_placement_cannot_start_before_the_committee_decided(running: dict[str, Any]) -> None:
    nomination_id = approved(running)  # decided on 2025-03-01
    assert running["posting"].get(f"/posting/nominations/{nomination_id}").json()["decided_on"] == "2025-03-01"
    body = {"placement_id": uid("p"), "nomination_id": nomination_id, "term_months": 24, "start_date": "2025-02-28"}
    early = running["posting"].post("/posting/placements", body, "od")
    assert early.status_code == 422 and early.json()["rule"] == "start_before_decision", early.text
    assert "2025-03-01" in early.json()["detail"]
    on_the_day = running["posting"].post("/posting/placements", {**body, "start_date": "2025-03-01"}, "od")
    assert on_the_day.status_code == 201, on_the_day.text


def test_a_placement_cannot_be_started_on_a_day_before_the_committee_decided(running: dict[str, Any]) -> None:
    api, nomination_id = running["posting"], approved(running)  # decided on 2025-03-01
    placement_id = uid("p")
    body = {"placement_id": placement_id, "nomination_id": nomination_id, "term_months": 24, "start_date": "2025-03-01"}
    assert api.post("/posting/placements", body, "od").status_code == 201
    signed(api, placement_id)
    before = events(api, f"placement-{placement_id}")
    early = api.post(f"/posting/placements/{placement_id}/start", {"started_on": "2025-02-28"}, "od")
    assert_refused(early, 422, "start_before_decision")
    assert "2025-03-01" in early.json()["detail"]
    assert events(api, f"placement-{placement_id}") == before
    assert api.post(f"/posting/placements/{placement_id}/start", {"started_on": "2025-03-01"}, "od").status_code == 200


def test_a_placement_is_signed_started_checked_in_on_and_completed(running: dict[str, Any]) -> None:
    api = running["posting"]
    start = TODAY - timedelta(days=400)  # a term served by today: a completion records what has happened
    placement_id = planned(running, start=start, term=12)
    assert api.post(f"/posting/placements/{placement_id}/agreement", TERMS, "od").status_code == 200
    for party in ("od", "finance"):
        assert api.post(f"/posting/placements/{placement_id}/agreement/signatures", {"version": 1}, party).status_code == 200
    before = events(api, f"placement-{placement_id}")

    assert_refused(api.post(f"/posting/placements/{placement_id}/start", {}, "od"), 409, "agreement_not_fully_signed")
    assert_refused(api.post(f"/posting/placements/{placement_id}/agreement/signatures", {"version": 1}, "education"),
                   403, "not_own_placement")
    assert events(api, f"placement-{placement_id}") == before

    assert api.post(f"/posting/placements/{placement_id}/agreement/signatures", {"version": 1}, "qingshui").status_code == 200
    assert view(api, placement_id)["status"] == "agreement_signed"
    assert api.post(f"/posting/placements/{placement_id}/start", {}, "od").status_code == 200
    check_in = api.post(f"/posting/placements/{placement_id}/check-ins",
                        {"checked_on": (start + timedelta(days=20)).isoformat(), **CHECK_IN}, "qingshui")
    assert check_in.status_code == 200, check_in.text
    ends_on = view(api, placement_id)["ends_on"]
    done = api.post(f"/posting/placements/{placement_id}/completion", {"outcome": "returned", "completed_on": ends_on}, "od")
    assert done.status_code == 200, done.text

    final = view(api, placement_id)
    assert (final["status"], final["outcome_label"], final["check_ins"]) == ("completed", "回原单位", 1)
    assert final["signatures"] == ["host_unit", "organisation_department", "sending_unit"]
    alerts = ("posting.CheckInOverdue", "posting.CheckInOverdueCleared")  # the term's silence, if the scan saw it
    assert [e for e in events(api, f"placement-{placement_id}") if e not in alerts] == [
        "posting.PlacementPlanned", "posting.AgreementDrafted", *["posting.AgreementSigned"] * 3,
        "posting.PlacementStarted", "posting.CheckInRecorded", "posting.PlacementCompleted"]
    with ClusterRpcProxy(rpc_config(running["amqp_uri"]), timeout=10) as rpc:
        mine = rpc.posting.placements_of_cadre(final["cadre_id"])
    assert [(p["placement_id"], p["status"]) for p in mine] == [(placement_id, "completed")]


def test_a_check_in_by_a_host_unit_that_is_not_the_placements_host_is_refused(running: dict[str, Any]) -> None:
    api = running["posting"]
    placement_id = active(running)
    before = events(api, f"placement-{placement_id}")
    refused = api.post(f"/posting/placements/{placement_id}/check-ins", {"checked_on": TODAY.isoformat(), **CHECK_IN}, "baima")
    assert_refused(refused, 403, "not_own_placement")
    assert_refused(api.post(f"/posting/placements/{placement_id}/check-ins", {"checked_on": TODAY.isoformat(), **CHECK_IN},
                            "od"), 403, "role_not_allowed")
    assert events(api, f"placement-{placement_id}") == before


def test_only_the_organisation_department_recalls(running: dict[str, Any]) -> None:
    api = running["posting"]
    placement_id = active(running)
    recall = {"reason": "身体原因无法继续挂职", "recalled_on": TODAY.isoformat()}
    for who in ("qingshui", "finance", "pc"):
        assert_refused(api.post(f"/posting/placements/{placement_id}/recall", recall, who), 403, "role_not_allowed")
    assert view(api, placement_id)["status"] == "active"
    assert api.post(f"/posting/placements/{placement_id}/recall", recall, "od").status_code == 200
    assert (view(api, placement_id)["status"], view(api, placement_id)["recall_reason"]) == ("recalled", recall["reason"])


def test_a_term_beyond_36_months_is_refused_at_planning_and_at_extension(running: dict[str, Any]) -> None:
    api = running["posting"]
    placement_id = active(running, term=24)
    before = events(api, f"placement-{placement_id}")
    too_long = api.post(f"/posting/placements/{placement_id}/extension", {"extra_months": 13, "reason": "项目未完成"}, "od")
    assert_refused(too_long, 422, "term_exceeds_maximum")
    assert events(api, f"placement-{placement_id}") == before
    assert api.post(f"/posting/placements/{placement_id}/extension", {"extra_months": 12, "reason": "项目未完成"},
                    "od").status_code == 200
    assert (view(api, placement_id)["status"], view(api, placement_id)["term_months"]) == ("extended", 36)

    refused = api.post("/posting/placements", {"placement_id": uid("p"), "nomination_id": approved(running),
                                               "term_months": 30, "start_date": TODAY.isoformat()}, "od")
    assert_refused(refused, 422, "term_not_allowed")


def test_a_term_that_has_ended_is_not_extended_unless_the_extension_was_decided_in_time(running: dict[str, Any]) -> None:
    api = running["posting"]
    placement_id = active(running, start=TODAY - timedelta(days=400), term=12)
    ends_on = date.fromisoformat(view(api, placement_id)["ends_on"])
    assert ends_on < TODAY

    late = api.post(f"/posting/placements/{placement_id}/extension", {"extra_months": 6, "reason": "项目未完成"}, "od")
    assert_refused(late, 409, "extension_after_term_end")
    assert ends_on.isoformat() in late.json()["detail"]
    assert "posting.PlacementExtended" not in events(api, f"placement-{placement_id}")
    assert (view(api, placement_id)["status"], view(api, placement_id)["term_months"]) == ("active", 12)

    in_time = {"extra_months": 6, "reason": "项目未完成", "decided_on": (ends_on - timedelta(days=10)).isoformat()}
    extended = api.post(f"/posting/placements/{placement_id}/extension", in_time, "od")
    assert extended.status_code == 200, extended.text
    with psycopg.connect(POSTING_DB) as conn:
        recorded = conn.execute("SELECT data->>'decided_on' FROM posting.events WHERE stream = %s"
                                " AND type = 'posting.PlacementExtended'", (f"placement-{placement_id}",)).fetchall()
    assert recorded == [(in_time["decided_on"],)]
    assert (view(api, placement_id)["status"], view(api, placement_id)["term_months"]) == ("extended", 18)


def test_a_post_above_the_level_the_mode_allows_is_refused_and_the_nomination_stays_placeable(
        running: dict[str, Any]) -> None:
    api, nomination_id = running["posting"], approved(running)
    before = events(api)
    refused = api.post("/posting/placements", {"placement_id": uid("p"), "nomination_id": nomination_id, "term_months": 24,
                                               "start_date": TODAY.isoformat(), "post_level": "deputy_division"}, "od")
    assert_refused(refused, 422, "posting_level_not_allowed")
    assert "deputy_division" in refused.json()["detail"]
    assert events(api) == before
    assert api.get(f"/posting/nominations/{nomination_id}").json()["placed"] is False


def test_planning_twice_with_one_idempotency_key_plans_once(running: dict[str, Any]) -> None:
    api, nomination_id = running["posting"], approved(running)
    body = {"placement_id": uid("p"), "nomination_id": nomination_id, "term_months": 12, "start_date": TODAY.isoformat()}
    first = api.post("/posting/placements", body, "od", **{"Idempotency-Key": nomination_id})
    assert first.status_code == 201, first.text
    before = events(api)
    retry = api.post("/posting/placements", body, "od", **{"Idempotency-Key": nomination_id})
    assert retry.status_code == 201 and retry.json()["replayed"] is True
    assert retry.json()["events"] == first.json()["events"]
    assert [e["type"] for e in first.json()["events"]] == ["posting.PlacementPlanned", "posting.NominationPlaced"]
    assert events(api) == before

    again = api.post("/posting/placements", {**body, "placement_id": uid("p")}, "od")
    assert_refused(again, 409, "nomination_already_placed")


def test_a_cadre_is_placed_once_at_a_time_and_again_only_after_the_placement_ended(running: dict[str, Any]) -> None:
    api = running["posting"]
    first = active(running)
    cadre_id = view(api, first)["cadre_id"]
    again = approved(running, cadre_id=cadre_id)  # an approved nomination leaves the cadre free to be recommended
    body = {"placement_id": uid("p"), "nomination_id": again, "term_months": 12, "start_date": TODAY.isoformat()}
    before = events(api)
    refused = api.post("/posting/placements", body, "od")
    assert_refused(refused, 409, "cadre_already_placed")
    assert first in refused.json()["detail"]
    assert events(api) == before
    assert api.get(f"/posting/nominations/{again}").json()["placed"] is False

    recall = {"reason": "工作需要提前召回", "recalled_on": TODAY.isoformat()}
    assert api.post(f"/posting/placements/{first}/recall", recall, "od").status_code == 200
    assert api.post("/posting/placements", body, "od").status_code == 201


def test_a_silent_placement_raises_one_alert_across_two_replicas_and_a_check_in_clears_it(running: dict[str, Any]) -> None:
    api = running["posting"]
    placement_id = active(running, start=TODAY - timedelta(days=CHECKIN_MAX_DAYS + 10))
    assert eventually(lambda: view(api, placement_id)["overdue_alert_open"])
    time.sleep(2)  # several more scans on both replicas
    assert events(api, f"placement-{placement_id}").count("posting.CheckInOverdue") == 1

    assert api.post(f"/posting/placements/{placement_id}/check-ins", {"checked_on": TODAY.isoformat(), **CHECK_IN},
                    "qingshui").status_code == 200
    assert view(api, placement_id)["overdue_alert_open"] is False
    assert events(api, f"placement-{placement_id}")[-2:] == ["posting.CheckInRecorded", "posting.CheckInOverdueCleared"]


def test_a_check_in_recorded_late_for_an_old_day_leaves_the_alert_open_until_one_ends_the_silence(
        running: dict[str, Any]) -> None:
    api = running["posting"]
    start = TODAY - timedelta(days=CHECKIN_MAX_DAYS + 10)
    placement_id = active(running, start=start)
    assert eventually(lambda: view(api, placement_id)["overdue_alert_open"])

    old_day = {"checked_on": (start + timedelta(days=2)).isoformat(), **CHECK_IN}  # 38 days ago: still too long
    recorded = api.post(f"/posting/placements/{placement_id}/check-ins", old_day, "qingshui")
    assert recorded.status_code == 200, recorded.text
    assert [e["type"] for e in recorded.json()["events"]] == ["posting.CheckInRecorded"]
    time.sleep(2)  # several scans on both replicas
    shown = view(api, placement_id)
    assert shown["overdue_alert_open"] is True and shown["last_check_in_on"] == old_day["checked_on"]
    stream = events(api, f"placement-{placement_id}")
    assert (stream.count("posting.CheckInOverdue"), stream.count("posting.CheckInOverdueCleared")) == (1, 0)

    recent = {"checked_on": (TODAY - timedelta(days=3)).isoformat(), **CHECK_IN}
    cleared = api.post(f"/posting/placements/{placement_id}/check-ins", recent, "qingshui")
    assert [e["type"] for e in cleared.json()["events"]] == ["posting.CheckInRecorded", "posting.CheckInOverdueCleared"]
    assert view(api, placement_id)["overdue_alert_open"] is False


def test_the_annual_plan_is_shown_against_actual_placements(running: dict[str, Any]) -> None:
    api = running["posting"]
    # A year no other placement of this module starts in (they start around today): with a fixed 2030, every
    # run in 2030 counted the other tests' placements as actual.
    year = TODAY.year + 5
    plan = {"year": year, "gap_filling": 19, "strength": 5, "docking": 3}
    assert_refused(api.post("/posting/plans", plan, "qingshui"), 403, "role_not_allowed")
    assert api.post("/posting/plans", plan, "od").status_code == 200
    # revising it on the strength of the first version, after someone else revised it: 412, nothing changed
    assert api.post("/posting/plans", {**plan, "gap_filling": 18}, "od", **{"If-Match": "1"}).status_code == 200
    assert_refused(api.post("/posting/plans", {**plan, "gap_filling": 17}, "od", **{"If-Match": "1"}), 412, "if_match")
    assert api.post("/posting/plans", plan, "od", **{"If-Match": "2"}).status_code == 200
    planned(running, start=date(year, 1, 1), placement_type="strength")

    report = api.get(f"/posting/plans/{year}").json()
    assert report["planned"] == {"gap_filling": 19, "strength": 5, "docking": 3}
    assert report["actual"] == {"gap_filling": 0, "strength": 1, "docking": 0}
    assert (report["planned_total"], report["actual_total"]) == (27, 1)


def test_openapi_documents_the_posting_resources(api: Api) -> None:
    import requests

    spec = requests.get(api.base + "/posting/openapi.json", timeout=10).json()
    assert {"/posting/placements", "/posting/placements/{placement_id}/agreement/signatures",
            "/posting/placements/{placement_id}/check-ins", "/posting/plans/{year}"} <= set(spec["paths"])
    assert spec["paths"]["/posting/placements/{placement_id}/recall"]["post"]["description"] == "Roles: organisation_department"


def test_metrics_show_rpcs_relay_lag_consumer_lag_parked_messages_and_the_chain_head(running: dict[str, Any]) -> None:
    from kombu import Connection, Producer

    from services.backbone.relay import events_exchange

    selection, replicas = running["selection"], running["posting_replicas"]
    approved(running)  # an event from selection that posting applies
    with ClusterRpcProxy(rpc_config(running["amqp_uri"]), timeout=20) as cluster:
        assert cluster.posting.read_feed("", 5)  # served by either replica
    with psycopg.connect(POSTING_DB) as conn:
        logged = conn.execute("SELECT count(*) FROM selection.events").fetchone()[0]

    def settled() -> Samples | None:
        samples = scrape(selection, "selection")
        done = (metric(samples, "fourgates_relay_lag_events") == 0 and metric(samples, "fourgates_audit_unsealed_events") == 0
                and metric(samples, "fourgates_audit_chain_head") >= logged)
        return samples if done else None

    samples = eventually(settled)
    assert samples is not None, "selection's relay and sequencer never caught up in the metrics"
    assert metric(samples, "fourgates_state_readable", service="selection") == 1
    assert metric(samples, "fourgates_relay_lag_seconds", service="selection") == 0
    assert metric(samples, "fourgates_gc_seconds_total", generation="0") > 0  # timed since the process started
    both = [scrape(replica, "posting") for replica in replicas]
    assert sum(metric(s, "fourgates_rpc_seconds_count", method="read_feed", outcome="ok") for s in both) >= 1
    assert sum(metric(s, "fourgates_consumer_lag_seconds_count", consumer="posting", source="selection") for s in both) >= 1
    assert all(metric(s, "fourgates_parked_messages", consumer="posting") == 0 for s in both)

    with Connection(running["amqp_uri"]) as amqp:  # a message posting cannot read: parked, and shown by both replicas
        Producer(amqp.channel(), exchange=events_exchange("selection")).publish(
            {"hello": "a JSON object that is no event"}, routing_key="selection.NominationApproved", serializer="json")
    parked = eventually(lambda: all(metric(scrape(r, "posting"), "fourgates_parked_messages", consumer="posting",
                                           source="selection") == 1 for r in replicas))
    assert parked, "the parked message did not show in fourgates_parked_messages on both replicas"

    # The operator sees it, cannot replay what is no event, and dismisses it with a reason; then the alert clears.
    api = running["posting"]
    listed = api.get("/posting/parked", "operator").json()
    assert listed["total"] == 1 and "malformed message" in listed["items"][0]["error_summary"]
    parked_id = listed["items"][0]["id"]
    assert api.get("/posting/parked", "od").status_code == 403
    too_far = api.get("/posting/parked", "operator", offset="99999999999999999999")
    assert too_far.status_code == 422 and "offset" in too_far.json()["errors"]
    replay = api.post(f"/posting/parked/{parked_id}/replay", {}, "operator")
    assert replay.status_code == 409 and replay.json()["rule"] == "parked.not_an_event"
    assert api.post(f"/posting/parked/{parked_id}/dismiss", {"reason": "test"}, "od").status_code == 403
    unexplained = api.post(f"/posting/parked/{parked_id}/dismiss", {}, "operator")
    assert unexplained.status_code == 422 and "reason" in unexplained.json()["errors"]
    dismissed = api.post(f"/posting/parked/{parked_id}/dismiss", {"reason": "a test message, not an event"}, "operator")
    assert dismissed.status_code == 200 and dismissed.json()["resolution"] == "dismissed"
    assert api.post(f"/posting/parked/{parked_id}/dismiss", {"reason": "again"}, "operator").status_code == 409
    assert api.post("/posting/parked/999999999/replay", {}, "operator").status_code == 404
    assert all(metric(scrape(r, "posting"), "fourgates_parked_messages", consumer="posting") == 0 for r in replicas)
    resolved = api.get("/posting/parked", "auditor", include_resolved="true").json()["items"][-1]
    assert (resolved["resolution"], resolved["resolved_by"]) == ("dismissed", "ops.he")


def test_a_cadre_erased_after_approval_is_placed_no_more(running: dict[str, Any]) -> None:
    """Erasure destroys the keys of the placements posting has; a placement planned after it would have had a
    fresh key, and the cadre's check-ins readable for good under it."""
    api, nomination_id = running["posting"], approved(running)
    cadre_id = api.get(f"/posting/nominations/{nomination_id}").json()["cadre_id"]
    erased = running["selection"].post(f"/selection/cadres/{cadre_id}/erasure", {"reason": "本人依法申请删除个人信息"}, "od")
    assert erased.status_code == 200, erased.text
    with psycopg.connect(POSTING_DB) as conn:
        erasure = conn.execute("SELECT event_id FROM selection.events WHERE type = 'selection.PersonalDataErased'"
                               " AND data->>'cadre_id' = %s", (cadre_id,)).fetchone()
    assert erasure is not None

    def applied() -> bool:  # posting's consumer has applied the erasure
        with psycopg.connect(POSTING_DB) as conn:
            return conn.execute("SELECT 1 FROM posting.consumer_inbox WHERE event_id = %s", erasure).fetchone() is not None

    assert eventually(applied)
    before, placement_id = events(api), uid("p")

    refused = api.post("/posting/placements", {"placement_id": placement_id, "nomination_id": nomination_id,
                                               "term_months": 24, "start_date": TODAY.isoformat()}, "od")

    assert_refused(refused, 409, "personal_data_erased")
    assert cadre_id in refused.json()["detail"]
    assert events(api) == before


def stamped(placement_or_stream: str, event_type: str) -> list[tuple[str | None, dict[str, Any]]]:
    """(policy_version, data) of each event of one type on one stream, straight from posting's table."""
    with psycopg.connect(POSTING_DB) as conn:
        rows = conn.execute("SELECT metadata->>'policy_version', data FROM posting.events WHERE stream = %s AND type = %s"
                            " ORDER BY version", (placement_or_stream, event_type)).fetchall()
    return [(version, data) for version, data in rows]


def test_term_rules_adopted_as_a_version_govern_plans_and_the_overdue_alert_and_are_stamped_on_them(
        running: dict[str, Any]) -> None:
    """Runs last in this module: the rules it adopts keep 12/24 months, 36 at most and alerts after 30 days or more
    for the others, and add 6-month terms and a 20-day check-in interval."""
    api = running["posting"]
    [default] = api.get("/posting/policies").json()["items"]
    assert (default["version"], default["allowed_term_months"], default["max_term_months"], default["check_in_days"],
            default["in_force"]) == (f"default-1-checkin-{CHECKIN_MAX_DAYS}d", [12, 24], 36, CHECKIN_MAX_DAYS, True)
    assert "挂职期限12或24个月" in default["label"]
    six_months = {"placement_id": uid("p"), "nomination_id": approved(running), "term_months": 6,
                  "start_date": TODAY.isoformat()}
    assert_refused(api.post("/posting/placements", six_months, "od"), 422, "term_not_allowed")

    policy = {"version": uid("county"), "effective_from": "2020-01-01", "allowed_term_months": [6, 12, 24],
              "max_term_months": 36, "check_in_days": 20, "reason": "县委组织部关于挂职期限的规定"}
    before = events(api, "policy-book")
    unordered = api.post("/posting/policies", {**policy, "allowed_term_months": [24, 6]}, "od")
    assert_refused(unordered, 422, "allowed_term_months_not_ascending")
    assert unordered.json()["field"] == "allowed_term_months"
    assert_refused(api.post("/posting/policies", policy, "qingshui"), 403, "role_not_allowed")
    assert events(api, "policy-book") == before
    adopted = api.post("/posting/policies", policy, "od")
    assert adopted.status_code == 201, adopted.text
    assert api.post("/posting/policies", policy, "od").json()["events"] == []  # the same again: nothing new
    assert_refused(api.post("/posting/policies", {**policy, "check_in_days": 25}, "od"), 409, "policy_version_exists")
    listed = api.get("/posting/policies").json()["items"]
    assert [(p["version"], p["in_force"]) for p in listed] == [(default["version"], False), (policy["version"], True)]

    assert api.post("/posting/placements", six_months, "od").status_code == 201
    assert [v for v, _ in stamped(f"placement-{six_months['placement_id']}", "posting.PlacementPlanned")] == [
        policy["version"]]
    silent = active(running, start=TODAY - timedelta(days=25), term=12)  # within 30 days, beyond 20
    assert eventually(lambda: view(api, silent)["overdue_alert_open"])
    [(version, alert)] = stamped(f"placement-{silent}", "posting.CheckInOverdue")
    assert (version, alert["max_days"], alert["days_without_check_in"]) == (policy["version"], 20, 25)
