"""The assessment gate through the HTTP API of a real assessment process, real PostgreSQL and RabbitMQ.

Posting is stood in for by a feed-only service named `posting` (below): the tests append posting's
own domain events to its schema, and its relay publishes them as the real service would.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
import requests
from kombu import Connection, Queue
from openapi_schema_validator import OAS30Validator
from psycopg_pool import ConnectionPool

from services.backbone.domain import Actor
from services.backbone.envelope import Metadata, NewEvent
from services.backbone.providers import EventStoreProvider, FeedEndpoints, RelayProvider
from services.backbone.registry import EventRegistry
from services.backbone.relay import events_exchange
from services.backbone.store import EventStore
from services.posting.domain import EVENT_TYPES as POSTING_EVENT_TYPES
from services.posting.domain import PlacementCompleted, PlacementPlanned, PlacementRecalled, PlacementStarted
from tests.conftest import sibling_db
from tests.support.api import Api, free_port, uid
from tests.support.processes import ServiceProcess, throwaway_vhost

DB = os.environ.get("FOURGATES_TEST_ASSESSMENT_DB", sibling_db("assessment"))
HOST = "qingshui"  # qingshui.wu, host unit qingshui-township
DIMENSIONS = ("work_performance", "public_recognition", "quality_improvement")
GROUPS = ("leaders", "colleagues", "public")


class PostingFeed(FeedEndpoints):
    """Stands in for the posting service: serves its feed over RPC and relays its events to `posting.events`."""

    name = "posting"
    store = EventStoreProvider()
    relay = RelayProvider()


class PostingLog:
    """Appends posting's domain events to the `posting` schema, as the posting service would."""

    def __init__(self, db: str) -> None:
        self.pool = ConnectionPool(db, min_size=1, max_size=2, open=True)
        self.store = EventStore(self.pool, "posting")
        self.registry = EventRegistry(POSTING_EVENT_TYPES.values())

    def record(self, placement_id: str, *events: Any) -> None:
        command_id = str(uuid.uuid4())
        meta = Metadata(Actor("od.zhang", "organisation_department", "county-od"), command_id, command_id,
                        "posting", datetime.now(UTC))
        self.store.append(f"placement-{placement_id}", [NewEvent(uuid.uuid4(), *self.registry.dump(e), meta) for e in events])


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from services.backbone.migrations import ensure_database, migrate

    ensure_database(DB)
    with psycopg.connect(DB, autocommit=True) as conn:
        for schema in ("assessment", "posting", "selection"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    migrate(DB, "posting", service="posting")
    logs = tmp_path_factory.mktemp("logs")
    port, selection_port = free_port(), free_port()
    with throwaway_vhost() as amqp_uri:
        with Connection(amqp_uri) as amqp:  # bound before anything is published, as a subscriber would be
            queue = Queue("test-assessment-events", exchange=events_exchange("assessment"), routing_key="#", durable=False)
            queue(amqp.channel()).declare()
        env = {"AMQP_URI": amqp_uri, "FOURGATES_DB": DB}
        processes = [
            ServiceProcess("services.assessment.service", "assessment",
                           {**env, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}, logs).start(),
            ServiceProcess(f"{__name__}:PostingFeed", "posting", env, logs).start(),
            ServiceProcess("services.selection.service", "selection",
                           {**env, "WEB_SERVER_ADDRESS": f"127.0.0.1:{selection_port}"}, logs).start(),
        ]
        api = Api(f"http://127.0.0.1:{port}")
        policy = {"version": "county-2026", "effective_from": "2026-01-01", "reason": "县委组织部2026年考核办法"}
        assert api.post("/assessment/policies", policy, "od", **{"Idempotency-Key": "policy-2026"}).status_code == 201
        posting = PostingLog(DB)
        yield {"api": api, "selection": Api(f"http://127.0.0.1:{selection_port}"), "amqp_uri": amqp_uri,
               "queue": queue, "posting": posting, "messages": [], "log": logs / "assessment.log"}
        posting.pool.close()
        for process in processes:
            process.stop()


@pytest.fixture
def api(running: dict[str, Any]) -> Api:
    return running["api"]


def eventually(check: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
    return result


def placement(running: dict[str, Any], start: bool = True, host_unit: str = "qingshui-township") -> tuple[str, str]:
    """A cadre selection knows, placed by posting (planned, and started), once assessment has noted it."""
    placement_id, cadre_id = uid("p"), uid("c")
    ok(running["selection"].post("/selection/cadres", {
        "cadre_id": cadre_id, "name": "李明", "rank": "deputy_section", "home_unit": "county-finance",
        "birth_date": "1990-05-01", "grassroots_experience": False, "fit_for_duty": True}, "hr"))
    events: list[Any] = [PlacementPlanned(placement_id, uid("n"), cadre_id, "deputy_section", "gap_filling",
                                          "county-finance", host_unit, "副镇长", "deputy_section", "same_level", 24,
                                          date(2015, 3, 1))]
    if start:
        events.append(PlacementStarted(placement_id, date(2015, 3, 1), date(2027, 2, 28)))
    running["posting"].record(placement_id, *events)
    status = "active" if start else "planned"
    eventually(lambda: running["api"].get(f"/assessment/placements/{placement_id}").json()["status"] == status)
    return placement_id, cadre_id


def open_assessment(api: Api, placement_id: str, year: int) -> str:
    response = api.post("/assessment/assessments", {"placement_id": placement_id, "kind": "annual", "year": year}, HOST)
    assert response.status_code == 201, response.text
    return f"/assessment/placements/{placement_id}/assessments/{year}"


def ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


def enter_inputs(api: Api, path: str, tallies: dict[str, dict[str, int]], score: float) -> None:
    ok(api.post(path + "/self-evaluation", {"text": "扎根乡镇，完成了信访化解任务。"}, HOST))
    for group, counts in tallies.items():
        ok(api.post(path + "/tallies", {"rater_group": group, "counts": counts}, HOST))
    for dimension in DIMENSIONS:
        ok(api.post(path + "/performance-scores", {"dimension": dimension, "score": score, "evidence": "年度工作台账"}, HOST))


def wire(running: dict[str, Any], until: Callable[[list[dict[str, Any]]], bool], timeout: float = 20) -> list[dict]:
    """Every message seen on `assessment.events` so far, reading on until `until` holds."""
    seen: list[dict[str, Any]] = running["messages"]
    deadline = time.monotonic() + timeout
    with Connection(running["amqp_uri"]) as amqp:
        def on_message(body: Any, message: Any) -> None:
            seen.append(json.loads(body) if isinstance(body, (str, bytes)) else body)
            message.ack()
        with amqp.Consumer(running["queue"], callbacks=[on_message], accept=["json", "cloudevents"]):
            while not until(seen):
                assert time.monotonic() < deadline, "expected messages did not arrive"
                try:
                    amqp.drain_events(timeout=1)
                except TimeoutError:
                    pass
    return seen


def test_an_assessment_opens_only_for_an_active_placement_of_the_host_units_own(running: dict[str, Any]) -> None:
    api = running["api"]
    planned, _ = placement(running, start=False)
    refused = api.post("/assessment/assessments", {"placement_id": planned, "kind": "annual", "year": 2025}, HOST)
    assert refused.status_code == 404 and refused.json()["rule"] == "placement_not_active"

    active, cadre_id = placement(running)
    other_host = api.post("/assessment/assessments", {"placement_id": active, "kind": "annual", "year": 2025}, "baima")
    assert other_host.status_code == 403 and other_host.json()["rule"] == "not_own_unit"
    early = api.post("/assessment/assessments", {"placement_id": active, "kind": "end_of_term", "year": 2025}, HOST)
    assert early.status_code == 409 and early.json()["rule"] == "placement_not_completed"

    view = ok(api.get(open_assessment(api, active, 2025), HOST))
    assert (view["cadre_id"], view["status"], view["policy_version"]) == (cadre_id, "open", "county-2026")
    assert api.get(f"/assessment/placements/{active}/assessments/2025", "baima").status_code == 403
    assert ok(api.get(f"/assessment/placements/{active}", HOST))["placement"]["cadre_id"] == cadre_id
    for outsider in ("baima", "education", "agency"):  # another host unit, another sending unit, an agency
        hidden = api.get(f"/assessment/placements/{active}", outsider)
        assert hidden.status_code == 403 and hidden.json()["rule"] == "not_own_record", (outsider, hidden.text)
        assert cadre_id not in hidden.text


def test_an_end_of_term_appraisal_opens_once_posting_completes_the_placement(running: dict[str, Any]) -> None:
    api = running["api"]
    placement_id, cadre_id = placement(running)
    running["posting"].record(placement_id, PlacementCompleted(placement_id, "returned", date(2027, 2, 28)))
    eventually(lambda: api.get(f"/assessment/placements/{placement_id}").json()["status"] == "completed")

    annual = api.post("/assessment/assessments", {"placement_id": placement_id, "kind": "annual", "year": 2026}, HOST)
    assert annual.status_code == 404 and annual.json()["rule"] == "placement_not_active"
    ok(api.post("/assessment/assessments", {"placement_id": placement_id, "kind": "end_of_term", "year": 2026}, HOST))
    view = ok(api.get(f"/assessment/placements/{placement_id}/assessments/end-of-term", HOST))
    assert (view["kind"], view["kind_label"], view["cadre_id"]) == ("end_of_term", "期满考核", cadre_id)


def test_ballots_cast_with_one_time_tokens_leave_no_trace_of_who_cast_them(running: dict[str, Any]) -> None:
    api = running["api"]
    path = open_assessment(api, placement(running)[0], 2018)
    issued = ok(api.post(path + "/ballot-tokens", {"rater_group": "colleagues", "count": 5}, HOST))
    tokens = issued["tokens"]
    caster = {"X-Correlation-Id": "rater-wang-xiaoming", "Idempotency-Key": "rater-wang-xiaoming-ballot"}
    for token, grade in zip(tokens, ["excellent", "competent", "competent", "competent", "basically_competent"],
                            strict=True):
        cast = api.post("/assessment/ballots", {"ballot_token": token, "grade": grade}, "baima", **caster)
        assert cast.status_code == 201, cast.text
        last, caster = caster, {k: v + "-again" for k, v in caster.items()}
    spent = api.post("/assessment/ballots", {"ballot_token": tokens[0], "grade": "incompetent"}, "baima")
    assert spent.status_code == 403 and tokens[0] not in spent.text
    # A retry after a lost answer (same body, same key) cannot be told from a second use, and need not be:
    retried = api.post("/assessment/ballots", {"ballot_token": tokens[4], "grade": "basically_competent"}, "baima",
                       **last)
    assert retried.status_code == 403 and "your first ballot was counted" in retried.json()["detail"]

    view = ok(api.get(path, HOST))
    assert view["democratic"]["groups"]["colleagues"]["counts"]["competent"] == 3
    ballots = [m for m in wire(running, lambda seen: sum(m["type"] == "assessment.BallotCast" for m in seen) >= 5)
               if m["type"] == "assessment.BallotCast"]
    assert all(set(m["data"]) == {"assessment_id", "entry_id", "rater_group", "grade"} for m in ballots)
    assert {m["fourgatesmetadata"]["actor"]["principal"] for m in ballots} == {"anonymous-rater"}

    secrets = [*tokens, "baima.zheng", "dev-host-baima", "rater-wang-xiaoming"]
    stored = everything_in_the_assessment_schema()
    log = eventually(lambda: running["log"].read_text(errors="replace"))
    messages = json.dumps(running["messages"], ensure_ascii=False)
    for secret in secrets:
        assert secret not in stored and secret not in log and secret not in messages, secret
    assert "/assessment/placements/" in log and "/assessment/ballots " not in log  # other requests are logged
    with psycopg.connect(DB) as conn:
        left = conn.execute("SELECT count(*) FROM assessment.ballot_tokens WHERE assessment_id = %s",
                            (view["assessment_id"],)).fetchone()
    assert left == (0,)


def test_an_appeal_reopens_the_result_but_not_the_ballot_of_tokens_issued_before(running: dict[str, Any]) -> None:
    api = running["api"]
    path = open_assessment(api, placement(running)[0], 2015)
    first, unspent = ok(api.post(path + "/ballot-tokens", {"rater_group": "public", "count": 2}, HOST))["tokens"]
    ok(api.post("/assessment/ballots", {"ballot_token": first, "grade": "incompetent"}, "baima"))
    enter_inputs(api, path, {g: {"competent": 5} for g in GROUPS}, 80)
    ok(api.post(path + "/finalisation", {"final_grade": "competent"}, HOST))
    ok(api.post(path + "/appeals", {"reason": "本人对考核结果有异议"}, "finance"))

    late = api.post("/assessment/ballots", {"ballot_token": unspent, "grade": "excellent"}, "baima")
    assert late.status_code == 409 and late.json()["rule"] == "ballot_token_void", late.text
    again = api.post("/assessment/ballots", {"ballot_token": first, "grade": "excellent"}, "baima")
    assert again.status_code == 403 and again.json()["rule"] == "ballot_token_invalid"
    assert ok(api.get(path, HOST))["democratic"]["groups"]["public"]["counts"] == {
        "excellent": 0, "competent": 5, "basically_competent": 0, "incompetent": 1}  # the cast ballot stays counted

    [fresh] = ok(api.post(path + "/ballot-tokens", {"rater_group": "public", "count": 1}, HOST))["tokens"]
    ok(api.post("/assessment/ballots", {"ballot_token": fresh, "grade": "excellent"}, "baima"))
    assert ok(api.get(path, HOST))["democratic"]["groups"]["public"]["counts"]["excellent"] == 1


def everything_in_the_assessment_schema() -> str:
    with psycopg.connect(DB) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'assessment'").fetchall()]
        rows = [conn.execute(f'SELECT coalesce(string_agg(t::text, E\'\\n\'), \'\') FROM assessment."{t}" t').fetchone()
                for t in tables]
    assert "events" in tables and "ballot_tokens" in tables
    return "\n".join(str(r[0]) for r in rows if r)


def test_a_rater_group_below_the_minimum_count_is_withheld_in_every_read(running: dict[str, Any]) -> None:
    api = running["api"]
    path = open_assessment(api, placement(running)[0], 2019)
    ok(api.post(path + "/tallies", {"rater_group": "leaders", "counts": {"excellent": 1, "incompetent": 2}}, HOST))
    ok(api.post(path + "/tallies", {"rater_group": "colleagues", "counts": {"competent": 5}}, HOST))

    for reader in (HOST, "od", "auditor"):
        democratic = ok(api.get(path, reader))["democratic"]
        assert democratic["suppressed"] == ["leaders"] and set(democratic["groups"]) == {"colleagues"}
        assert all("counts" not in e for e in democratic["entries"] if e["rater_group"] == "leaders")
    history = ok(api.get(path + "/history", "auditor"))["events"]
    leaders = [e["data"] for e in history if e["data"].get("rater_group") == "leaders"]
    assert leaders and all("counts" not in data for data in leaders)
    assert ok(api.get(path))["preview"] is None  # no composite while a group is withheld


def test_finalising_past_the_excellent_cap_is_refused_with_the_numbers_and_a_final_grade_reaches_selection(
        running: dict[str, Any]) -> None:
    api, selection = running["api"], running["selection"]
    placement_id, cadre_id = placement(running)
    path = open_assessment(api, placement_id, 2016)
    enter_inputs(api, path, {g: {"excellent": 5} for g in GROUPS}, 95)
    assert ok(api.get(path))["preview"]["proposed_grade"] == "excellent"

    capped = api.post(path + "/finalisation", {"final_grade": "excellent"}, HOST)
    assert capped.status_code == 422 and capped.json()["rule"] == "excellent_cap_exceeded"
    assert (capped.json()["excellent"], capped.json()["cohort_size"], capped.json()["cap"]) == (1, 1, 0.2)
    assert "1 of 1" in capped.json()["detail"]

    ok(api.post(path + "/finalisation", {"final_grade": "competent", "reason": "优秀名额已满"}, HOST))
    [finalised] = [m for m in wire(running, lambda seen: any(_finalised(m, cadre_id) for m in seen))
                   if _finalised(m, cadre_id)]
    assert {"cadre_id": cadre_id, "year": 2016, "kind": "annual", "final_grade": "competent"}.items() <= finalised["data"].items()
    record = eventually(lambda: selection.get(f"/selection/cadres/{cadre_id}").json()["assessments"])
    assert [(a["year"], a["grade"]) for a in record] == [(2016, "competent")]

    appeal = ok(api.post(path + "/appeals", {"reason": "本人对考核结果有异议"}, "finance"))
    assert [e["type"] for e in appeal["events"]] == ["assessment.AssessmentReopened"]
    assert ok(api.get(path))["status"] == "open"

    # finalised again after the appeal: the cadre's record holds the new grade in place of the one it replaces
    ok(api.post(path + "/finalisation", {"final_grade": "basically_competent", "reason": "复核后调整"}, HOST))
    record = eventually(lambda: [(a["year"], a["grade"]) for a in selection.get(f"/selection/cadres/{cadre_id}").json()[
        "assessments"] if a["grade"] != "competent"])
    assert record == [(2016, "basically_competent")]
    assert len(selection.get(f"/selection/cadres/{cadre_id}").json()["assessments"]) == 1


def _finalised(message: dict[str, Any], cadre_id: str) -> bool:
    return message["type"] == "assessment.AssessmentFinalised" and message["data"]["cadre_id"] == cadre_id


def test_a_low_approval_raises_a_warning_recommendation_beside_the_final_grade(running: dict[str, Any]) -> None:
    api = running["api"]
    path = open_assessment(api, placement(running)[0], 2017)
    enter_inputs(api, path, {"leaders": {"competent": 5}, "colleagues": {"basically_competent": 5},
                             "public": {"competent": 2, "basically_competent": 3}}, 70)
    finalised = ok(api.post(path + "/finalisation", {"final_grade": "basically_competent"}, HOST))
    assert [e["type"] for e in finalised["events"]] == ["assessment.AssessmentFinalised", "assessment.WarningRaised"]
    warning = [e for e in ok(api.get(path + "/history"))["events"] if e["type"] == "assessment.WarningRaised"]
    assert warning[0]["data"]["rule"] == "low_approval" and warning[0]["data"]["share"] < 2 / 3
    assert ok(api.get(path))["final"] == {"grade": "basically_competent", "label": "基本称职"}


def test_a_correction_is_a_new_event_and_the_corrected_entry_stays_in_the_history(running: dict[str, Any]) -> None:
    api = running["api"]
    path = open_assessment(api, placement(running)[0], 2020)
    entered = ok(api.post(path + "/performance-scores",
                          {"dimension": "work_performance", "score": 70, "evidence": "台账"}, HOST))
    entry_id = ok(api.get(path))["performance"]["entries"][0]["entry_id"]
    no_reason = api.post(path + "/performance-scores/corrections",
                         {"corrects_entry_id": entry_id, "score": 82, "evidence": "补充台账"}, HOST)
    assert no_reason.status_code == 422
    ok(api.post(path + "/performance-scores/corrections",
                {"corrects_entry_id": entry_id, "score": 82, "evidence": "补充台账", "reason": "漏记重点项目"}, HOST))
    ok(api.post(path + "/performance-adjustments",
                {"dimension": "work_performance", "delta": -2, "reason": "违反考勤纪律一次"}, HOST))

    assert ok(api.get(path))["performance"]["effective"]["work_performance"] == 80
    history = ok(api.get(path + "/history"))["events"]
    scores = [(e["type"], e["data"].get("score"), e["reason"], e["actor"]["principal"]) for e in history[1:]]
    assert scores == [("assessment.PerformanceScoreEntered", 70, None, "qingshui.wu"),
                      ("assessment.PerformanceScoreCorrected", 82, "漏记重点项目", "qingshui.wu"),
                      ("assessment.PerformanceScoreAdjusted", None, "违反考勤纪律一次", "qingshui.wu")]
    assert history[1]["version"] == entered["version"]


def post_with(api: Api, path: str, body: Any, token: str) -> requests.Response:
    return requests.post(api.base + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_only_the_appointed_agency_uploads_the_survey_and_a_team_grade_is_combined(api: Api) -> None:
    campaign_id, units = uid("camp"), ["county-finance", "county-education"]
    self_surveyed = api.post("/assessment/campaigns", {"campaign_id": campaign_id, "year": 2026, "units": [*units, "polling-co"],
                                                       "agency": "polling-co", "settings": {"version": "city-2026"}}, "od")
    assert self_surveyed.status_code == 422 and self_surveyed.json()["rule"] == "agency_is_assessed_unit"
    ok(api.post("/assessment/campaigns", {"campaign_id": campaign_id, "year": 2026, "units": units,
                                          "agency": "polling-co", "settings": {"version": "city-2026"}}, "od"))
    path = f"/assessment/campaigns/{campaign_id}"
    csv = "unit,score,summary\ncounty-finance,88,群众满意度较高\ncounty-education,76,服务意识有待加强\n"

    rival = post_with(api, path + "/survey-report", {"csv": csv}, "dev-agency-rival")
    assert rival.status_code == 403 and rival.json()["rule"] == "not_own_unit"
    assert api.post(path + "/survey-report", {"csv": csv}, "od").status_code == 403
    malformed = api.post(path + "/survey-report", {"csv": csv.replace("76", "lots")}, "agency")
    assert malformed.status_code == 422 and (malformed.json()["line"], malformed.json()["field"]) == (3, "score")
    ok(api.post(path + "/survey-report", {"csv": csv}, "agency"))

    unit = "county-finance"
    focus = {"strategic_direction": 90, "institutional_innovation": 85, "internal_capacity": 88, "service_function": 92}
    ok(api.post(path + "/democratic-scores", {"unit": unit, "focus_scores": focus, "respondents": 30}, "od"))
    ok(api.post(path + "/team-scores", {"unit": unit, "source": "performance", "score": 86, "note": "目标考核"}, "od"))
    ok(api.post(path + "/interview-notes", {"unit": unit, "focus": "service_function", "note": "班子团结"}, "od"))
    ok(api.post(path + "/team-scores", {"unit": unit, "source": "qualitative", "score": 90, "note": "综合评议"}, "od"))
    ok(api.post(path + "/findings", {"unit": unit, "source": "audit", "summary": "专项资金管理不规范", "deduction": 1}, "od"))
    ok(api.post(path + f"/units/{unit}/finalisation", {"team_grade": "good"}, "od"))
    ok(api.post(path + f"/units/{unit}/result-uses", {"use": "civilised_unit_award", "note": "推荐参评"}, "od"))

    view = ok(api.get(path, "od"))["units"][unit]
    assert (view["team_grade"], view["team_grade_label"], view["deductions"]) == ("good", "良好", 1.0)
    assert view["sources"]["survey"]["score"] == 88 and view["uses"][0]["label"] == "文明单位评选"


def test_the_raw_feed_of_ballots_is_for_auditors_and_integration_only(api: Api) -> None:
    assert api.get("/assessment/feed", HOST).status_code == 403
    assert api.get("/assessment/feed", "finance").status_code == 403
    assert ok(api.get("/assessment/feed", "auditor", limit=1))["events"]


def test_openapi_documents_the_assessment_routes(api: Api) -> None:
    spec = requests.get(api.base + "/assessment/openapi.json", timeout=10).json()
    assert "/assessment/placements/{placement_id}/assessments/{period}/finalisation" in spec["paths"]
    assert "security" not in spec["paths"]["/assessment/ballots"]["post"]
    assert "auditor" in spec["paths"]["/assessment/feed"]["get"]["description"]
    undocumented = [f"{method.upper()} {path}" for path, operations in spec["paths"].items()
                    for method, operation in operations.items()
                    for status, answer in operation["responses"].items() if status < "300" and "content" not in answer]
    assert undocumented == []


ONE = "/assessment/placements/{placement_id}/assessments/{period}"


class Documented:
    """What the running service documents at /assessment/openapi.json, to check its answers against."""

    def __init__(self, api: Api) -> None:
        self.spec = requests.get(api.base + "/assessment/openapi.json", timeout=10).json()

    def check(self, response: requests.Response, method: str, route: str) -> Any:
        """The answer's JSON, once it is shown to be exactly what the route documents for its status."""
        assert response.status_code < 300, response.text
        answer = self.spec["paths"][route][method]["responses"].get(str(response.status_code), {})
        assert "content" in answer, f"{method.upper()} {route} answers {response.status_code} with no documented schema"
        schema = {**answer["content"]["application/json"]["schema"], "components": self.spec["components"]}
        OAS30Validator(schema).validate(response.json())
        return response.json()


def test_every_answer_is_what_the_served_openapi_documents(running: dict[str, Any]) -> None:
    api = running["api"]
    documented = Documented(api)
    placement_id, cadre_id = placement(running)
    path = open_assessment(api, placement_id, 2021)
    documented.check(api.get(path, HOST), "get", ONE)  # nothing entered: no self-evaluation, preview or final
    issued = documented.check(api.post(path + "/ballot-tokens", {"rater_group": "leaders", "count": 5}, HOST),
                              "post", ONE + "/ballot-tokens")
    assert (issued["rater_group"], len(issued["tokens"])) == ("leaders", 5)
    for token in issued["tokens"]:
        cast = api.post("/assessment/ballots", {"ballot_token": token, "grade": "competent"}, HOST)
        assert documented.check(cast, "post", "/assessment/ballots") == {"accepted": True}
    enter_inputs(api, path, {"colleagues": {"competent": 5}, "public": {"excellent": 2}}, 80)
    withheld = documented.check(api.get(path, HOST), "get", ONE)  # a group withheld, so no preview
    assert withheld["democratic"]["suppressed"] == ["public"] and withheld["preview"] is None
    ok(api.post(path + "/tallies", {"rater_group": "public", "counts": {"competent": 3}}, HOST))
    ok(api.post(path + "/finalisation", {"final_grade": "competent"}, HOST))
    final = documented.check(api.get(path, HOST), "get", ONE)
    assert final["preview"] is not None and final["final"]["grade"] == "competent"
    documented.check(api.get(path + "/history", HOST), "get", ONE + "/history")
    assert documented.check(api.get("/assessment/assessments", HOST, cadre_id=cadre_id), "get",
                            "/assessment/assessments")["items"][0]["final_grade"] == "competent"
    documented.check(api.get(f"/assessment/placements/{placement_id}", HOST), "get", "/assessment/placements/{placement_id}")
    documented.check(api.get("/assessment/policies", "od"), "get", "/assessment/policies")

    campaign_id = uid("camp")
    ok(api.post("/assessment/campaigns", {"campaign_id": campaign_id, "year": 2026, "units": ["county-finance", "c-2"],
                                          "agency": "polling-co", "settings": {"version": "city-2026"}}, "od"))
    campaign = f"/assessment/campaigns/{campaign_id}"
    ok(api.post(campaign + "/survey-report", {"csv": "unit,score,summary\ncounty-finance,88,满意\nc-2,70,一般\n"},
                "agency"))
    focus = dict.fromkeys(("strategic_direction", "institutional_innovation", "internal_capacity", "service_function"), 75)
    ok(api.post(campaign + "/democratic-scores", {"unit": "c-2", "focus_scores": focus, "respondents": 30}, "od"))
    ok(api.post(campaign + "/interview-notes", {"unit": "c-2", "focus": "service_function", "note": "团结"}, "od"))
    for source in ("performance", "qualitative"):
        ok(api.post(campaign + "/team-scores", {"unit": "c-2", "source": source, "score": 72, "note": "考核"}, "od"))
    ok(api.post(campaign + "/findings", {"unit": "c-2", "source": "audit", "summary": "资金管理不规范", "deduction": 1}, "od"))
    ok(api.post(campaign + "/units/c-2/finalisation", {"team_grade": "average"}, "od"))
    ok(api.post(campaign + "/units/c-2/result-uses", {"use": "civilised_unit_award", "note": "暂缓"}, "od"))
    view = documented.check(api.get(campaign, "od"), "get", "/assessment/campaigns/{campaign_id}")
    assert view["units"]["county-finance"]["sources"]["performance"] is None
    listed = documented.check(api.get("/assessment/campaigns", "od", limit=1000), "get", "/assessment/campaigns")
    assert campaign_id in [c["campaign_id"] for c in listed["items"]]


def test_a_self_evaluation_may_say_why_and_the_reason_is_kept_with_the_entry(running: dict[str, Any]) -> None:
    api = running["api"]
    path = open_assessment(api, placement(running)[0], 2022)
    ok(api.post(path + "/self-evaluation", {"text": "驻村两年，完成了产业帮扶任务。", "reason": "本人口述，组织代录"}, HOST))
    history = ok(api.get(path + "/history", HOST))["events"]
    assert [(e["type"], e["reason"]) for e in history[1:]] == [("assessment.SelfEvaluationEntered", "本人口述，组织代录")]


def test_every_entry_by_the_organisation_or_host_unit_may_say_why_and_its_event_keeps_the_reason(
        running: dict[str, Any]) -> None:
    api = running["api"]
    path = open_assessment(api, placement(running)[0], 2021)
    ok(api.post(path + "/performance-scores", {"dimension": "work_performance", "score": 88, "evidence": "年度台账",
                                               "reason": "依据县考核办公室通报"}, HOST))
    ok(api.post(path + "/ballot-tokens", {"rater_group": "colleagues", "count": 3, "reason": "同事测评改为线上"}, HOST))
    history = ok(api.get(path + "/history", HOST))["events"]
    assert [(e["type"], e["reason"]) for e in history[1:]] == [
        ("assessment.PerformanceScoreEntered", "依据县考核办公室通报"), ("assessment.BallotTokensIssued", "同事测评改为线上")]

    campaign_id, unit = uid("camp"), "county-finance"
    ok(api.post("/assessment/campaigns", {"campaign_id": campaign_id, "year": 2026, "units": [unit],
                                          "agency": "polling-co", "settings": {"version": "city-2026"}}, "od"))
    campaign = f"/assessment/campaigns/{campaign_id}"
    said = {"assessment.InterviewNoteRecorded": "补充个别谈话", "assessment.FindingRecorded": "审计局移交",
            "assessment.ResultUseRecorded": "县委常委会决定"}
    ok(api.post(campaign + "/interview-notes", {"unit": unit, "focus": "service_function", "note": "班子团结",
                                                "reason": said["assessment.InterviewNoteRecorded"]}, "od"))
    ok(api.post(campaign + "/findings", {"unit": unit, "source": "audit", "summary": "专项资金管理不规范", "deduction": 1,
                                         "reason": said["assessment.FindingRecorded"]}, "od"))
    # a result is used only once the team has its grade, which needs every source
    ok(api.post(campaign + "/survey-report", {"csv": f"unit,score,summary\n{unit},88,群众满意度较高\n"}, "agency"))
    focus = {"strategic_direction": 90, "institutional_innovation": 85, "internal_capacity": 88, "service_function": 92}
    ok(api.post(campaign + "/democratic-scores", {"unit": unit, "focus_scores": focus, "respondents": 30}, "od"))
    for source in ("performance", "qualitative"):
        ok(api.post(campaign + "/team-scores", {"unit": unit, "source": source, "score": 86, "note": "目标考核"}, "od"))
    ok(api.post(campaign + f"/units/{unit}/finalisation", {"team_grade": "good"}, "od"))
    ok(api.post(campaign + f"/units/{unit}/result-uses", {"use": "civilised_unit_award", "note": "推荐参评",
                                                          "reason": said["assessment.ResultUseRecorded"]}, "od"))
    feed = ok(api.get("/assessment/feed", "auditor", limit=1000))["events"]
    kept = {e["type"]: e["fourgatesmetadata"]["reason"] for e in feed
            if e["type"] in said and e["data"].get("campaign_id") == campaign_id}
    assert kept == said


def test_an_unknown_placement_is_not_found_and_a_recalled_one_is_still_known_to_its_readers(
        running: dict[str, Any]) -> None:
    api = running["api"]
    for reader in (HOST, "od"):
        missing = api.get("/assessment/placements/nope", reader)
        assert missing.status_code == 404 and missing.json()["rule"] == "placement_not_found", missing.text
        assert missing.headers["Content-Type"].startswith("application/problem+json")
    assert api.get("/assessment/placements/nope").status_code == 404  # as the auditor, who reads everything

    placement_id, cadre_id = placement(running)
    running["posting"].record(placement_id, PlacementRecalled(placement_id, "健康原因", date(2016, 3, 1)))
    eventually(lambda: api.get(f"/assessment/placements/{placement_id}").json().get("status") == "recalled")
    assert ok(api.get(f"/assessment/placements/{placement_id}", "finance"))["placement"]["cadre_id"] == cadre_id
    hidden = api.get(f"/assessment/placements/{placement_id}", "baima")
    assert hidden.status_code == 403 and hidden.json()["rule"] == "not_own_record" and cadre_id not in hidden.text


def test_assessments_page_like_every_list_and_answer_as_of_a_moment(running: dict[str, Any]) -> None:
    api = running["api"]
    placement_id, cadre_id = placement(running)
    path = open_assessment(api, placement_id, 2023)
    opened_at = datetime.fromisoformat(ok(api.get(path + "/history", HOST))["events"][0]["recorded_at"])
    enter_inputs(api, path, {g: {"competent": 5} for g in GROUPS}, 80)
    ok(api.post(path + "/finalisation", {"final_grade": "competent"}, HOST))

    def listed(**query: Any) -> dict[str, Any]:
        return ok(api.get("/assessment/assessments", HOST, cadre_id=cadre_id, **query))

    assert {k: v for k, v in listed().items() if k != "items"} == {"total": 1, "limit": 100, "offset": 0}
    assert listed(offset=1) == {"items": [], "total": 1, "limit": 100, "offset": 1}
    then = listed(as_of=opened_at.isoformat(), limit=5)
    assert ([a["status"] for a in then["items"]], then["limit"]) == (["open"], 5)
    assert listed(as_of=opened_at.isoformat(), status="open")["total"] == 1
    assert listed(as_of=opened_at.isoformat(), status="finalised")["total"] == 0
    assert listed(status="finalised")["total"] == 1
    assert listed(as_of=(opened_at - timedelta(milliseconds=1)).isoformat())["total"] == 0
    assert listed(as_of="2999-01-01T00:00:00+00:00")["items"][0]["status"] == "finalised"  # the future: now
    for refused in ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"as_of": "2026-01-01"}, {"sort": "year"}):
        assert api.get("/assessment/assessments", HOST, **refused).status_code == 422, refused


def test_campaigns_and_policies_page_like_every_list_and_answer_as_of_a_moment(running: dict[str, Any]) -> None:
    api = running["api"]
    first, second = uid("camp"), uid("camp")
    ok(api.post("/assessment/campaigns", {"campaign_id": first, "year": 2026, "units": ["county-finance"],
                                          "agency": "polling-co", "settings": {"version": "city-2026"}}, "od"))
    path = open_assessment(api, placement(running)[0], 2024)  # a moment recorded between the two campaigns
    between = ok(api.get(path + "/history", HOST))["events"][0]["recorded_at"]
    ok(api.post("/assessment/campaigns", {"campaign_id": second, "year": 2026, "units": ["county-education"],
                                          "agency": "polling-co", "settings": {"version": "city-2026"}}, "od"))

    def campaigns(reader: str = "od", **query: Any) -> list[str]:
        return [c["campaign_id"] for c in ok(api.get("/assessment/campaigns", reader, limit=1000, **query))["items"]]

    one = ok(api.get("/assessment/campaigns", "od", limit=1))
    assert (len(one["items"]), one["limit"], one["offset"]) == (1, 1, 0) and one["total"] >= 2
    assert ok(api.get("/assessment/campaigns", "od", limit=1, offset=1))["items"] != one["items"]
    assert {first, second} <= set(campaigns())
    then = campaigns(as_of=between)
    assert first in then and second not in then
    assert campaigns(as_of="2000-01-01T00:00:00+00:00") == []
    assert first in campaigns("finance") and second not in campaigns("finance")  # a unit reads its own campaigns
    assert api.get(f"/assessment/campaigns/{second}", "od", as_of=between).status_code == 404

    policies = ok(api.get("/assessment/policies", "od", limit=1))
    assert [p["version"] for p in policies["items"]] == ["default-1"] and policies["total"] >= 2
    assert "county-2026" in [p["version"] for p in ok(api.get("/assessment/policies", "od", offset=1))["items"]]
    before = ok(api.get("/assessment/policies", "od", as_of="2000-01-01T00:00:00+00:00"))
    assert ([p["version"] for p in before["items"]], before["total"]) == (["default-1"], 1)
    for route in ("/assessment/campaigns", "/assessment/policies", path + "/history", f"/assessment/campaigns/{first}"):
        assert api.get(route, "od", sort="year").status_code == 422, route
        assert api.get(route, "od", as_of="yesterday").status_code == 422, route
    assert api.get("/assessment/campaigns", "od", limit=1001).status_code == 422


def test_the_built_in_default_policy_version_is_not_redefined(api: Api) -> None:
    """Two rule books both named default-1 would leave an assessment's policy_version naming either of them."""
    redefined = api.post("/assessment/policies", {"version": "default-1", "effective_from": "2000-01-01",
                                                  "min_group_count": 1, "reason": "小单位放宽人数"}, "od")
    assert redefined.status_code == 409 and redefined.json()["rule"] == "policy_version_exists", redefined.text
    versions = [p["version"] for p in ok(api.get("/assessment/policies", "od", limit=100))["items"]]
    assert versions.count("default-1") == 1


def test_assessment_rules_that_could_not_be_applied_are_refused_naming_the_field_and_the_rule(api: Api) -> None:
    """Weights that do not add up are 422 with a code per field and rule and `field` (not one `invalid_policy`
    for every mistake); nothing is adopted."""
    version = uid("county")
    bad = api.post("/assessment/policies", {"version": version, "effective_from": "2030-01-01",
                                            "group_weights": {"leaders": 0.5, "colleagues": 0.4}, "reason": "权重有误"},
                   "od")
    assert bad.status_code == 422, bad.text
    assert (bad.json()["rule"], bad.json()["field"]) == ("group_weights_sum_not_one", "group_weights")
    assert "group_weights" in bad.json()["detail"]
    versions = [p["version"] for p in ok(api.get("/assessment/policies", "od", limit=1000))["items"]]
    assert version not in versions


def test_the_policy_list_says_which_version_is_in_force_and_the_rules_in_chinese(api: Api) -> None:
    """As posting's and selection's lists do: `in_force` on today's day (or on as_of's), and `label`."""
    future = {"version": uid("county"), "effective_from": "2100-01-01", "min_group_count": 3, "excellent_cap": 0.15,
              "reason": "远期考核办法"}
    ok(api.post("/assessment/policies", future, "od"))

    def listed(**query: Any) -> tuple[list[str], dict[str, str]]:
        items = ok(api.get("/assessment/policies", "od", limit=1000, **query))["items"]
        return [p["version"] for p in items if p["in_force"]], {p["version"]: p["label"] for p in items}

    in_force, labels = listed()
    assert in_force == ["county-2026"]  # adopted by the fixture, in force from 2026-01-01
    assert listed(as_of="2000-01-01T00:00:00+00:00")[0] == ["default-1"]
    assert listed(as_of="2100-06-01T00:00:00+00:00")[0] == [future["version"]]
    assert labels["default-1"].startswith("每类测评人不少于5人；民主测评占40%（领导班子成员30%、干部职工40%、服务对象30%）")
    assert "每类测评人不少于3人" in labels[future["version"]] and "优秀比例不超过15%" in labels[future["version"]]


def test_campaign_settings_that_could_not_be_applied_are_refused_naming_the_field_and_the_rule(api: Api) -> None:
    """A code per field and rule and `field`, not one `invalid_campaign_settings`; no campaign is opened."""
    campaign_id = uid("camp")
    bad = api.post("/assessment/campaigns", {"campaign_id": campaign_id, "year": 2026, "units": ["county-finance"],
                                             "agency": "polling-co",
                                             "settings": {"version": "city-2026", "qualitative_weight": 0.5}}, "od")
    assert bad.status_code == 422, bad.text
    assert (bad.json()["rule"], bad.json()["field"]) == ("qualitative_weight_sum_not_one", "qualitative_weight")
    assert api.get(f"/assessment/campaigns/{campaign_id}", "od").status_code == 404
