"""The selection gate through the HTTP API of a real selection process, real PostgreSQL and RabbitMQ."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import requests
from kombu import Connection, Queue

from services.backbone.relay import events_exchange
from tests.support.api import Api, uid
from tests.support.dates import born_years_ago, utc_today
from tests.support.selection import running_selection


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from tests.conftest import TEST_DB

    def bind_queue(amqp_uri: str) -> Queue:
        with Connection(amqp_uri) as amqp:  # bound before anything is published, as a subscriber would be
            queue = Queue("test-selection-events", exchange=events_exchange("selection"), routing_key="#", durable=False)
            queue(amqp.channel()).declare()
        return queue

    with running_selection(TEST_DB, tmp_path_factory.mktemp("logs"), bind_queue) as running:
        yield {**running, "queue": running["before"]}


@pytest.fixture
def api(running: dict[str, Any]) -> Api:
    return running["api"]


def cadre(api: Api, **overrides: Any) -> str:
    body = {"cadre_id": uid("c"), "name": "李明", "rank": "deputy_section", "home_unit": "county-finance",
            "birth_date": "1992-05-01", "grassroots_experience": False, "fit_for_duty": True, "reserve_cadre": True,
            **overrides}
    response = api.post("/selection/cadres", body, "hr")
    assert response.status_code == 200, response.text
    return str(body["cadre_id"])


def recommend(api: Api, cadre_id: str, **overrides: Any) -> tuple[str, Any]:
    """Recommended on 1 Feb 2025 (unless overridden), so that the decisions dated March 2025 come after it."""
    body = {"nomination_id": uid("n"), "cadre_id": cadre_id, "placement_type": "gap_filling",
            "host_unit": "qingshui-township", "host_post": "副镇长", "post_level": "deputy_section",
            "posting_mode": "same_level", "reason": "年轻干部缺少基层经历", "recommended_on": "2025-02-01", **overrides}
    body = {k: v for k, v in body.items() if v is not None}
    return str(body["nomination_id"]), api.post("/selection/nominations", body, "finance")


def full_cadre(cadre_id: str, **overrides: Any) -> dict[str, Any]:
    """What `cadre()` registers, as an HR system sends it again (a field set to None is left out)."""
    body = {"cadre_id": cadre_id, "name": "李明", "rank": "deputy_section", "home_unit": "county-finance",
            "birth_date": "1992-05-01", "grassroots_experience": False, "fit_for_duty": True, "reserve_cadre": True,
            **overrides}
    return {k: v for k, v in body.items() if v is not None}


def metadata_of(stream: str, type_: str) -> dict[str, Any]:
    from tests.conftest import TEST_DB

    with psycopg.connect(TEST_DB) as conn:
        row = conn.execute("SELECT metadata FROM selection.events WHERE stream = %s AND type = %s", (stream, type_)).fetchone()
    assert row is not None, f"no {type_} in {stream}"
    return dict(row[0])


def whole_feed(api: Api) -> str:
    """Every event of selection's feed, as the JSON text a reader of /selection/feed receives."""
    pages, after = [], ""
    while events := (page := api.get("/selection/feed", limit=1000, after=after).json())["events"]:
        pages.append(json.dumps(events, ensure_ascii=False))
        after = page["next"]
    return "\n".join(pages)


def event_count(api: Api) -> int:
    """Rows in selection's log, counted in the table itself: the feed may lag behind the cluster's xid horizon."""
    from tests.conftest import TEST_DB

    with psycopg.connect(TEST_DB) as conn:
        return int(conn.execute("SELECT count(*) FROM selection.events").fetchone()[0])


def test_a_nomination_goes_through_all_three_steps_and_its_events_reach_the_exchange(running: dict[str, Any]) -> None:
    api = running["api"]
    nomination_id, response = recommend(api, cadre(api))
    assert response.status_code == 201, response.text
    assert api.post(f"/selection/nominations/{nomination_id}/inspection",
                    {"findings": "德才兼备", "passed": True}, "od").status_code == 200
    decided = api.post(f"/selection/nominations/{nomination_id}/decision",
                       {"approved": True, "decision_ref": "县委〔2025〕12号", "decision_date": "2025-03-01"}, "pc")
    assert decided.status_code == 200, decided.text

    view = api.get(f"/selection/nominations/{nomination_id}").json()
    assert view["status"] == "approved"
    assert view["placement_type_label"] == "补短型"
    assert all(c["passed"] for c in view["criteria"] if c["hard"])
    assert view["policy_version"] == "county-2025"
    types = wire_types_for(running, nomination_id, expect=3)
    assert types == ["selection.NominationRecommended", "selection.NominationInspected", "selection.NominationApproved"]


def wire_types_for(running: dict[str, Any], nomination_id: str, expect: int) -> list[str]:
    found: list[str] = []
    done = threading.Event()
    with Connection(running["amqp_uri"]) as amqp:
        def on_message(body: Any, message: Any) -> None:
            event = json.loads(body) if isinstance(body, (str, bytes)) else body
            if event["subject"] == f"nomination-{nomination_id}":
                found.append(event["type"])
                assert event["specversion"] == "1.0" and event["fourgatesmetadata"]["actor"]["principal"]
            message.ack()
            if len(found) >= expect:
                done.set()
        with amqp.Consumer(running["queue"], callbacks=[on_message], accept=["json", "cloudevents"]):
            while not done.is_set():
                amqp.drain_events(timeout=20)
    return found


@pytest.mark.parametrize("step, body, as_, status, rule", [
    ("decision", {"approved": True, "decision_ref": "x", "decision_date": "2025-03-01"}, "pc", 409, "step_order"),
    ("inspection", {"findings": "ok", "passed": True}, "pc", 403, "role_not_allowed"),
    ("inspection", {"findings": "ok", "passed": True}, "hr", 403, "role_not_allowed"),
])
def test_a_step_out_of_order_or_by_the_wrong_role_is_refused_and_writes_nothing(
        api: Api, step: str, body: dict, as_: str, status: int, rule: str) -> None:
    nomination_id, _ = recommend(api, cadre(api))
    before = event_count(api)

    refused = api.post(f"/selection/nominations/{nomination_id}/{step}", body, as_)

    assert refused.status_code == status, refused.text
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert refused.json()["rule"] == rule and refused.json()["detail"]
    assert event_count(api) == before


def test_the_same_person_may_not_inspect_and_later_approve(api: Api) -> None:
    nomination_id, _ = recommend(api, cadre(api))
    api.post(f"/selection/nominations/{nomination_id}/inspection", {"findings": "ok", "passed": True}, "od")
    before = event_count(api)
    # pc.chen approves is fine; an organisation-department person cannot approve at all (wrong role)
    refused = api.post(f"/selection/nominations/{nomination_id}/decision",
                       {"approved": True, "decision_ref": "x", "decision_date": "2025-03-01"}, "od")
    assert refused.status_code == 403
    assert event_count(api) == before


def test_a_post_above_the_cadres_rank_is_refused_with_the_reason(api: Api) -> None:
    cadre_id = cadre(api)
    before = event_count(api)
    _, refused = recommend(api, cadre_id, post_level="deputy_division", posting_mode="same_level")

    assert refused.status_code == 422
    assert refused.json()["rule"] == "posting_level"
    assert "deputy_division" in refused.json()["detail"]
    assert event_count(api) == before


def test_an_ineligible_cadre_is_blocked_until_the_organisation_department_overrides(api: Api) -> None:
    nomination_id, response = recommend(api, cadre(api, grassroots_experience=True))
    assert response.status_code == 201
    blocked = api.post(f"/selection/nominations/{nomination_id}/inspection", {"findings": "ok", "passed": True}, "od")
    assert blocked.status_code in (409, 422) and blocked.json()["rule"] == "eligibility_not_met"

    override = api.post(f"/selection/nominations/{nomination_id}/eligibility-override",
                        {"reason": "信访岗位急需熟悉基层的干部"}, "od2")
    assert override.status_code == 200, override.text
    assert api.post(f"/selection/nominations/{nomination_id}/inspection",
                    {"findings": "ok", "passed": True}, "od").status_code == 200


def test_invalid_input_names_the_field_and_the_rule(api: Api) -> None:
    response = api.post("/selection/cadres", {"cadre_id": "x1", "name": "王", "rank": "emperor", "home_unit": "u",
                                              "birth_date": "2001-02-31", "grassroots_experience": False,
                                              "fit_for_duty": True, "blood_type": "A"}, "hr")
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"rank", "birth_date", "blood_type"}


def test_writes_need_a_token_and_say_so(api: Api) -> None:
    import requests

    response = requests.post(api.base + "/selection/cadres", json={}, timeout=10)
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]


def test_sending_the_same_cadre_twice_changes_nothing_and_a_change_is_one_event(api: Api) -> None:
    cadre_id = cadre(api)
    before = event_count(api)
    again = api.post("/selection/cadres", {"cadre_id": cadre_id, "name": "李明", "rank": "deputy_section",
                                           "home_unit": "county-finance", "birth_date": "1992-05-01",
                                           "grassroots_experience": False, "fit_for_duty": True,
                                           "reserve_cadre": True}, "hr")
    assert again.json()["events"] == [] and event_count(api) == before
    changed = api.post("/selection/cadres", {"cadre_id": cadre_id, "name": "李明", "rank": "section_chief",
                                             "home_unit": "county-finance", "birth_date": "1992-05-01",
                                             "grassroots_experience": False, "fit_for_duty": True,
                                             "reserve_cadre": True}, "hr")
    assert [e["type"] for e in changed.json()["events"]] == ["selection.CadreUpdated"]
    assert api.get(f"/selection/cadres/{cadre_id}").json()["rank_label"] == "正科"


def test_a_retried_request_with_the_same_idempotency_key_returns_the_first_result(api: Api) -> None:
    nomination_id, _ = recommend(api, cadre(api))
    body = {"findings": "ok", "passed": True}
    first = api.post(f"/selection/nominations/{nomination_id}/inspection", body, "od", **{"Idempotency-Key": nomination_id})
    before = event_count(api)
    retry = api.post(f"/selection/nominations/{nomination_id}/inspection", body, "od", **{"Idempotency-Key": nomination_id})

    assert retry.status_code == 200 and retry.json()["replayed"] is True
    assert retry.json()["events"] == first.json()["events"]
    assert event_count(api) == before


def test_an_idempotency_key_is_no_pass_for_another_principal(api: Api) -> None:
    """Education may not recommend finance's cadre; sending finance's own request's key again gets no result."""
    cadre_id = cadre(api)
    body = {"nomination_id": uid("n"), "cadre_id": cadre_id, "placement_type": "gap_filling",
            "host_unit": "qingshui-township", "host_post": "副镇长", "post_level": "deputy_section",
            "posting_mode": "same_level", "reason": "年轻干部缺少基层经历"}
    key = {"Idempotency-Key": uid("key")}
    assert api.post("/selection/nominations", body, "education", **key).status_code == 403
    assert api.post("/selection/nominations", body, "finance", **key).status_code == 201
    before = event_count(api)

    borrowed = api.post("/selection/nominations", body, "education", **key)

    assert borrowed.status_code == 422 and borrowed.json()["rule"] == "idempotency_key", borrowed.text
    assert "events" not in borrowed.json() and body["nomination_id"] not in borrowed.text
    assert event_count(api) == before
    assert api.post("/selection/nominations", body, "finance", **key).json()["replayed"] is True


def test_a_bad_cadre_in_a_bulk_registration_is_named_by_its_place(api: Api) -> None:
    good = {"cadre_id": uid("c"), "name": "李明", "rank": "deputy_section", "home_unit": "county-finance",
            "birth_date": "1992-05-01", "grassroots_experience": False, "fit_for_duty": True}
    refused = api.post("/selection/cadres/bulk", {"cadres": [good, {**good, "cadre_id": uid("c"), "fit_for_duty": "yes"}]},
                       "hr")
    assert refused.status_code == 422
    assert refused.json()["detail"] == "cadres.1.fit_for_duty: Not a valid boolean."


def test_if_match_on_a_command_that_creates_or_changes_many_is_refused_not_ignored(api: Api) -> None:
    """A nomination is created, a bulk register changes many cadres: no one version for If-Match to name. Sent
    anyway, it is refused by name, and nothing is recorded, rather than ignored behind the client's back."""
    cadre_id = cadre(api)
    body = {"nomination_id": uid("n"), "cadre_id": cadre_id, "placement_type": "gap_filling",
            "host_unit": "qingshui-township", "host_post": "副镇长", "post_level": "deputy_section",
            "posting_mode": "same_level", "reason": "年轻干部缺少基层经历", "recommended_on": "2025-02-01"}
    refused = api.post("/selection/nominations", body, "finance", **{"If-Match": "0"})
    assert refused.status_code == 400 and refused.json()["rule"] == "if_match_not_applicable", refused.text
    assert "Idempotency-Key" in refused.json()["detail"]
    assert api.get(f"/selection/nominations/{body['nomination_id']}").status_code == 404
    bulk = api.post("/selection/cadres/bulk", {"cadres": [full_cadre(uid("c"))]}, "hr", **{"If-Match": "3"})
    assert bulk.status_code == 400 and bulk.json()["rule"] == "if_match_not_applicable"
    assert api.post("/selection/nominations", body, "finance").status_code == 201


def test_a_stale_if_match_on_adopting_a_policy_is_refused(api: Api) -> None:
    """The policy book has a version like any aggregate: an officer who decided on the book as it was gets 412
    when another adoption came in between (it used to be ignored)."""
    policy = {"version": uid("p"), "effective_from": "2031-01-01", "age_caps": {"deputy_section": 40}, "reason": "测试"}
    stale = api.post("/selection/policies", policy, "od", **{"If-Match": "999999"})
    assert stale.status_code == 412, stale.text


def test_an_integrating_system_reads_the_eligibility_policies_and_which_is_in_force(api: Api) -> None:
    """Which age caps selection judges by, readable like posting's and assessment's: every adopted version in
    order, the one in force marked, its rules in Chinese, paged and as recorded at a moment (as_of)."""
    listed = api.get("/selection/policies", "hr")
    assert listed.status_code == 200, listed.text
    [current] = [p for p in listed.json()["items"] if p["in_force"]]
    assert (current["version"], current["age_caps"]["deputy_section"]) == ("county-2025", 40)
    assert "副科不超过40岁" in current["label"] and "优先推荐后备干部" in current["label"]
    seen_at = datetime.now(UTC).isoformat()
    later = {"version": uid("county"), "effective_from": (utc_today() + timedelta(days=3650)).isoformat(),
             "age_caps": {"clerk": 35, "deputy_section": 40, "section_chief": 40}, "reason": "下一版年龄上限"}
    assert api.post("/selection/policies", later, "od").status_code == 201
    page = api.get("/selection/policies", "qingshui", limit=1, offset=listed.json()["total"]).json()
    assert page["total"] == listed.json()["total"] + 1
    assert [(p["version"], p["in_force"]) for p in page["items"]] == [(later["version"], False)]
    assert "county-2025" in [p["version"] for p in api.get("/selection/policies").json()["items"] if p["in_force"]]
    assert api.get("/selection/policies", as_of=seen_at).json() == listed.json()


def test_a_stale_if_match_is_refused(api: Api) -> None:
    nomination_id, _ = recommend(api, cadre(api))
    stale = api.post(f"/selection/nominations/{nomination_id}/inspection", {"findings": "ok", "passed": True}, "od",
                     **{"If-Match": "0"})
    assert stale.status_code == 412


def test_two_concurrent_approvals_one_succeeds_the_other_conflicts(api: Api) -> None:
    nomination_id, _ = recommend(api, cadre(api))
    api.post(f"/selection/nominations/{nomination_id}/inspection", {"findings": "ok", "passed": True}, "od")
    barrier, statuses = threading.Barrier(2), []

    def approve() -> None:
        barrier.wait()
        statuses.append(api.post(f"/selection/nominations/{nomination_id}/decision",
                                 {"approved": True, "decision_ref": "x", "decision_date": "2025-03-01"}, "pc").status_code)

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 409]
    from tests.conftest import TEST_DB

    with psycopg.connect(TEST_DB) as conn:
        types = [r[0] for r in conn.execute("SELECT type FROM selection.events WHERE stream = %s",
                                            (f"nomination-{nomination_id}",))]
    assert types.count("selection.NominationApproved") == 1


def test_openapi_documents_every_route(api: Api) -> None:
    import requests

    spec = requests.get(api.base + "/selection/openapi.json", timeout=10).json()
    assert "/selection/nominations/{nomination_id}/decision" in spec["paths"]
    assert spec["paths"]["/selection/nominations"]["post"]["requestBody"]


def assessment_finalised(running: dict[str, Any], cadre_id: str) -> Any:
    """An assessment of the cadre finalised in the (stand-in) assessment service; returns once selection has it."""
    import time

    from psycopg_pool import ConnectionPool

    from services.backbone.store import EventStore
    from tests.conftest import new_event

    finalised = new_event("assessment.AssessmentFinalised", {
        "assessment_id": uid("a"), "cadre_id": cadre_id, "placement_id": uid("p"), "host_unit": "qingshui-township",
        "year": 2025, "kind": "annual", "final_grade": "excellent", "proposed_grade": "excellent",
        "composite": 93.5, "policy_version": "assessment-2025", "reason": None})
    with ConnectionPool(running["db"], min_size=1, max_size=1) as pool:
        EventStore(pool, "assessment").append(f"assessment-{cadre_id}", [finalised])
    deadline = time.monotonic() + 30
    while not running["api"].get(f"/selection/cadres/{cadre_id}").json()["assessments"]:
        assert time.monotonic() < deadline, "the finalised assessment never reached selection"
        time.sleep(0.3)
    return finalised


def test_a_finalised_assessment_is_recorded_on_the_cadre_exactly_once(running: dict[str, Any]) -> None:
    import time

    api = running["api"]
    cadre_id = cadre(api)
    finalised = assessment_finalised(running, cadre_id)
    time.sleep(1)  # let any redelivery or catch-up of the same event arrive: it must change nothing

    assessments = api.get(f"/selection/cadres/{cadre_id}").json()["assessments"]
    assert [(a["year"], a["kind"], a["grade"], a["grade_label"]) for a in assessments] == [(2025, "annual", "excellent", "优秀")]
    assert assessments[0]["source_event_id"] == str(finalised.event_id)


def test_erasing_a_cadre_leaves_no_plaintext_and_the_chain_still_verifies(running: dict[str, Any]) -> None:
    import time

    from psycopg_pool import ConnectionPool

    from services.backbone.audit import verify_chain
    from services.backbone.store import EventStore

    api, name = running["api"], f"张{uid('x')[-6:]}"
    cadre_id = cadre(api, name=name)
    nomination_id, _ = recommend(api, cadre_id, reason=f"{name}缺少基层经历")
    api.post(f"/selection/nominations/{nomination_id}/inspection", {"findings": f"{name}表现突出", "passed": True}, "od")
    assert api.get(f"/selection/cadres/{cadre_id}").json()["name"] == name

    erased = api.post(f"/selection/cadres/{cadre_id}/erasure", {"reason": "本人依法申请删除"}, "od")

    assert erased.status_code == 200, erased.text
    view = api.get(f"/selection/cadres/{cadre_id}").json()
    assert view["erased"] is True and name not in json.dumps(view, ensure_ascii=False)
    assert name not in json.dumps(api.get(f"/selection/nominations/{nomination_id}").json(), ensure_ascii=False)
    with psycopg.connect(running["db"]) as conn:
        raw = conn.execute("SELECT string_agg(data::text || metadata::text, ' ') FROM selection.events").fetchone()[0]
    assert name not in raw
    feed = json.dumps(api.get("/selection/feed", limit=1000).json(), ensure_ascii=False)
    assert name not in feed
    again = api.post("/selection/cadres", {"cadre_id": cadre_id, "name": name, "rank": "deputy_section",
                                           "home_unit": "county-finance", "birth_date": "1992-05-01",
                                           "grassroots_experience": False, "fit_for_duty": True}, "hr")
    assert again.status_code == 409 and again.json()["rule"] == "personal_data_erased"
    # The running service's own sequencer seals the erasure too (a second sealer here, without its lock, would
    # race it for the next audit number); the whole chain, erasure included, then verifies.
    with ConnectionPool(running["db"], min_size=1, max_size=2) as pool:
        store = EventStore(pool, "selection")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with psycopg.connect(running["db"]) as conn:
                unsealed = conn.execute("SELECT count(*) FROM selection.events e WHERE NOT EXISTS"
                                        " (SELECT 1 FROM selection.audit_chain a WHERE a.event_id = e.event_id)").fetchone()
            if unsealed == (0,):
                break
            time.sleep(0.2)
        assert unsealed == (0,), f"{unsealed[0] if unsealed else '?'} events still unsealed after 30 s"
        assert verify_chain(store).ok


def test_erasure_is_refused_with_the_reason_while_records_must_be_kept(api: Api) -> None:
    cadre_id = cadre(api)
    assert api.post(f"/selection/cadres/{cadre_id}/retention", {"reason": "纪律审查期间依法保存"}, "od").status_code == 200
    before = event_count(api)

    refused = api.post(f"/selection/cadres/{cadre_id}/erasure", {"reason": "本人申请"}, "od")

    assert refused.status_code == 422 and refused.json()["rule"] == "retention_required"
    assert "纪律审查期间依法保存" in refused.json()["detail"]
    assert event_count(api) == before


def test_a_unit_reads_only_its_own_cadres_and_nominations(api: Api) -> None:
    cadre_id = cadre(api)  # of county-finance
    nomination_id, _ = recommend(api, cadre_id)  # to qingshui-township

    assert api.get(f"/selection/cadres/{cadre_id}", as_="finance").status_code == 200
    other = api.get(f"/selection/cadres/{cadre_id}", as_="education")
    assert other.status_code == 403 and other.json()["rule"] == "not_own_record"
    assert cadre_id not in [c["cadre_id"] for c in api.get("/selection/cadres", as_="education", limit=1000).json()["items"]]
    assert api.get(f"/selection/nominations/{nomination_id}", as_="qingshui").status_code == 200
    assert api.get(f"/selection/nominations/{nomination_id}", as_="baima").status_code == 403
    assert api.get(f"/selection/cadres/{cadre_id}", as_="agency").status_code == 403


# --- updates from an HR system: left-out fields, the reserve pool, If-Match ---------------------------------


def test_an_update_leaving_out_the_optional_fields_keeps_what_the_organisation_department_set(api: Api) -> None:
    cadre_id = cadre(api)  # in the reserve pool
    assert api.post("/selection/cadres", full_cadre(cadre_id, open_disciplinary_matter=True), "od").status_code == 200

    synced = api.post("/selection/cadres", full_cadre(cadre_id, rank="section_chief", reserve_cadre=None), "hr")

    assert synced.status_code == 200, synced.text
    assert [e["type"] for e in synced.json()["events"]] == ["selection.CadreUpdated"]
    view = api.get(f"/selection/cadres/{cadre_id}").json()
    assert (view["rank"], view["open_disciplinary_matter"], view["reserve_cadre"]) == ("section_chief", True, True)
    assert api.post("/selection/cadres", full_cadre(cadre_id, rank="section_chief", reserve_cadre=None),
                    "hr").json()["events"] == []


def test_an_update_may_not_take_a_cadre_out_of_the_reserve_pool_without_the_reserve_pool_route(api: Api) -> None:
    cadre_id = cadre(api)  # in the reserve pool
    before = event_count(api)

    refused = api.post("/selection/cadres", full_cadre(cadre_id, reserve_cadre=False), "hr")

    assert refused.status_code == 422, refused.text
    assert (refused.json()["rule"], refused.json()["field"]) == ("reserve_pool_change", "reserve_cadre")
    assert f"/selection/cadres/{cadre_id}/reserve-pool/removal" in refused.json()["detail"]
    assert event_count(api) == before
    assert api.get(f"/selection/cadres/{cadre_id}").json()["reserve_cadre"] is True


def test_a_cadre_update_with_a_stale_if_match_is_refused(api: Api) -> None:
    cadre_id = cadre(api)
    assert api.post("/selection/cadres", full_cadre(cadre_id, fit_for_duty=False), "hr").json()["version"] == 2
    before = event_count(api)

    for stale in ("1", "7"):
        refused = api.post("/selection/cadres", full_cadre(cadre_id, rank="section_chief"), "hr", **{"If-Match": stale})
        assert refused.status_code == 412 and refused.json()["rule"] == "if_match", refused.text
    assert event_count(api) == before
    current = api.post("/selection/cadres", full_cadre(cadre_id, rank="section_chief"), "hr", **{"If-Match": "2"})
    assert current.status_code == 200 and current.json()["version"] == 3, current.text


def test_the_same_cadre_twice_in_one_bulk_request_is_refused_and_nothing_is_written(api: Api) -> None:
    first, second = full_cadre(uid("c")), full_cadre(uid("c"))
    before = event_count(api)

    refused = api.post("/selection/cadres/bulk", {"cadres": [first, second, {**first, "rank": "section_chief"}]}, "hr")

    assert refused.status_code == 422, refused.text
    assert (refused.json()["rule"], refused.json()["item"], refused.json()["first_item"]) == ("duplicate", 2, 0)
    assert "cadres.2.cadre_id" in refused.json()["detail"]
    assert event_count(api) == before


# --- versions in lists ------------------------------------------------------------------------------------------


def test_lists_show_each_item_at_the_version_a_client_may_send_as_if_match(api: Api) -> None:
    import time

    cadre_id = cadre(api)
    api.post("/selection/cadres", full_cadre(cadre_id, name="李明明"), "hr")
    nomination_id, _ = recommend(api, cadre_id)
    inspected = api.post(f"/selection/nominations/{nomination_id}/inspection", {"findings": "ok", "passed": True}, "od")
    assert inspected.status_code == 200, inspected.text
    time.sleep(0.01)
    now = api.get(f"/selection/cadres/{cadre_id}").json()
    as_of = {"as_of": now_iso()}

    def listed(path: str, key: str, item_id: str, **params: Any) -> int:
        items = api.get(path, limit=1000, **params).json()["items"]
        return int(next(i for i in items if i[key] == item_id)["version"])

    for params in ({}, as_of):
        assert listed("/selection/cadres", "cadre_id", cadre_id, **params) == now["version"] == 2
        assert listed("/selection/nominations", "nomination_id", nomination_id, **params) == 2
    decided = api.post(f"/selection/nominations/{nomination_id}/decision",
                       {"approved": True, "decision_ref": "县委〔2025〕12号", "decision_date": "2025-03-01"}, "pc",
                       **{"If-Match": str(listed("/selection/nominations", "nomination_id", nomination_id))})
    assert decided.status_code == 200, decided.text
    assert listed("/selection/nominations", "nomination_id", nomination_id, **as_of) == 2  # as it was then


def now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


# --- dates of the nomination's steps ----------------------------------------------------------------------------


def test_a_decision_dated_before_the_recommendation_is_refused_and_writes_nothing(api: Api) -> None:
    nomination_id, _ = recommend(api, cadre(api), recommended_on="2025-02-01")
    api.post(f"/selection/nominations/{nomination_id}/inspection", {"findings": "ok", "passed": True}, "od")
    before = event_count(api)

    refused = api.post(f"/selection/nominations/{nomination_id}/decision",
                       {"approved": True, "decision_ref": "x", "decision_date": "1990-01-01"}, "pc")

    assert refused.status_code == 422, refused.text
    assert (refused.json()["rule"], refused.json()["field"]) == ("decision_before_recommendation", "decision_date")
    assert "1990-01-01" in refused.json()["detail"] and "2025-02-01" in refused.json()["detail"]
    assert event_count(api) == before


def test_a_nomination_recommended_without_a_date_is_recommended_today(api: Api) -> None:
    # Eligible today whenever the test runs: it needs the inspection to pass (a fixed birth date outgrows the cap).
    nomination_id, response = recommend(api, cadre(api, birth_date=born_years_ago(30)), recommended_on=None)
    assert response.status_code == 201, response.text
    assert api.get(f"/selection/nominations/{nomination_id}").json()["recommended_on"] == utc_today().isoformat()
    api.post(f"/selection/nominations/{nomination_id}/inspection", {"findings": "ok", "passed": True}, "od")
    refused = api.post(f"/selection/nominations/{nomination_id}/decision",
                       {"approved": True, "decision_ref": "x", "decision_date": "2025-03-01"}, "pc")
    assert refused.status_code == 422 and refused.json()["rule"] == "decision_before_recommendation"


def test_a_recommendation_dated_in_the_future_is_refused(api: Api) -> None:
    before = event_count(api)
    _, refused = recommend(api, cadre(api), recommended_on=(utc_today() + timedelta(days=30)).isoformat())
    assert refused.status_code == 422 and refused.json()["rule"] == "recommended_on_in_future", refused.text
    assert event_count(api) == before + 1  # the cadre's registration only


def test_an_approval_carries_the_policy_version_the_nomination_was_recommended_under(api: Api) -> None:
    nomination_id, _ = recommend(api, cadre(api))
    api.post(f"/selection/nominations/{nomination_id}/inspection", {"findings": "ok", "passed": True}, "od")
    api.post(f"/selection/nominations/{nomination_id}/decision",
             {"approved": True, "decision_ref": "x", "decision_date": "2025-03-01"}, "pc")
    assert metadata_of(f"nomination-{nomination_id}", "selection.NominationApproved")["policy_version"] == "county-2025"


# --- every answer as the served OpenAPI document declares it ----------------------------------------------------


def exactly(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its references inlined and every declared property required: with the document's
    `additionalProperties: false`, an answer then matches only if it has exactly the declared fields."""
    if "$ref" in schema:
        return exactly(spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], spec)
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {k: exactly(v, spec) for k, v in out["properties"].items()}
        out["required"] = sorted(out["properties"])
    if isinstance(out.get("items"), dict):
        out["items"] = exactly(out["items"], spec)
    return out


def test_every_selection_answer_has_exactly_the_fields_the_openapi_document_declares(running: dict[str, Any]) -> None:
    import requests
    from openapi_schema_validator import OAS30Validator

    api = running["api"]
    spec = requests.get(api.base + "/selection/openapi.json", timeout=10).json()

    def check(method: str, route: str, response: Any) -> None:
        assert response.status_code < 300, response.text
        operation = spec["paths"][route][method]
        schema = operation["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
        OAS30Validator(exactly(schema, spec), format_checker=OAS30Validator.FORMAT_CHECKER).validate(response.json())

    plain, failing = cadre(api), cadre(api, grassroots_experience=True)
    check("post", "/selection/cadres", api.post("/selection/cadres", full_cadre(uid("c")), "hr"))
    check("post", "/selection/cadres/bulk", api.post("/selection/cadres/bulk", {"cadres": [full_cadre(plain)]}, "hr"))
    csv = "cadre_id,name,rank,home_unit,birth_date,grassroots_experience,fit_for_duty\n" \
          f"{uid('c')},王芳,clerk,county-finance,1995-01-01,false,true\n"
    check("post", "/selection/cadres/import", api.post("/selection/cadres/import", {"csv": csv}, "hr"))
    api.post(f"/selection/cadres/{plain}/retention", {"reason": "纪律审查期间依法保存"}, "od")
    assessment_finalised(running, plain)
    erased = cadre(api)
    api.post(f"/selection/cadres/{erased}/erasure", {"reason": "本人依法申请删除"}, "od")
    fresh, _ = recommend(api, plain)
    overridden, _ = recommend(api, failing)
    api.post(f"/selection/nominations/{overridden}/eligibility-override", {"reason": "急需"}, "od2")
    api.post(f"/selection/nominations/{overridden}/inspection", {"findings": "ok", "passed": True}, "od")
    check("post", "/selection/nominations/{nomination_id}/decision",
          api.post(f"/selection/nominations/{overridden}/decision",
                   {"approved": True, "decision_ref": "x", "decision_date": "2025-03-01"}, "pc"))
    for cadre_id in (plain, erased):
        check("get", "/selection/cadres/{cadre_id}", api.get(f"/selection/cadres/{cadre_id}"))
    for nomination_id in (fresh, overridden):
        check("get", "/selection/nominations/{nomination_id}", api.get(f"/selection/nominations/{nomination_id}"))
    unit_id = uid("township")
    check("post", "/selection/units", register_unit(api, unit_id, {"name": "清水乡"}, "hr"))
    check("post", "/selection/units", register_unit(api, unit_id, {"name": "清水镇"}, "od"))
    check("get", "/selection/units/{unit_id}", api.get(f"/selection/units/{unit_id}"))
    for params in ({}, {"as_of": now_iso()}):
        check("get", "/selection/cadres", api.get("/selection/cadres", limit=1000, **params))
        check("get", "/selection/nominations", api.get("/selection/nominations", limit=1000, **params))
        check("get", "/selection/units", api.get("/selection/units", limit=1000, **params))


# --- the unit register: the names beside the units' slugs ------------------------------------------------------


def register_unit(api: Api, unit_id: str, body: dict[str, Any], as_: str, **headers: str) -> requests.Response:
    """POST /selection/units for `unit_id` with the rest of the body."""
    return api.post("/selection/units", {"unit_id": unit_id, **body}, as_, **headers)


def unit_events(unit_id: str) -> list[tuple[str, dict[str, Any], Any]]:
    """(type, data, recorded_at) of each event of the unit's stream, in order."""
    from tests.conftest import TEST_DB

    with psycopg.connect(TEST_DB) as conn:
        rows = conn.execute("SELECT type, data, recorded_at FROM selection.events WHERE stream = %s ORDER BY version",
                            (f"unit-{unit_id}",)).fetchall()
    return [(type_, dict(data), at) for type_, data, at in rows]


def test_a_unit_registered_under_its_name_reads_back_with_it(api: Api) -> None:
    unit_id = uid("township")

    registered = register_unit(api, unit_id, {"name": " 清水镇 ", "reason": "单位名录建立"}, "hr")

    assert registered.status_code == 200, registered.text
    assert [e["type"] for e in registered.json()["events"]] == ["selection.UnitRegistered"]
    assert api.get(f"/selection/units/{unit_id}").json() == {"unit_id": unit_id, "name": "清水镇", "version": 1}
    assert unit_events(unit_id)[0][:2] == ("selection.UnitRegistered", {"unit_id": unit_id, "name": "清水镇"})
    assert metadata_of(f"unit-{unit_id}", "selection.UnitRegistered")["reason"] == "单位名录建立"


def test_a_renamed_unit_keeps_its_previous_name_and_reads_as_it_was_before_the_rename(api: Api) -> None:
    unit_id = uid("township")
    register_unit(api, unit_id, {"name": "清水乡"}, "hr")

    renamed = register_unit(api, unit_id, {"name": "清水镇", "reason": "撤乡设镇"}, "od")

    assert renamed.status_code == 200, renamed.text
    assert [e["type"] for e in renamed.json()["events"]] == ["selection.UnitRenamed"]
    (_, _, registered_at), (type_, data, _) = unit_events(unit_id)
    assert (type_, data) == ("selection.UnitRenamed", {"unit_id": unit_id, "name": "清水镇", "previous_name": "清水乡"})
    assert api.get(f"/selection/units/{unit_id}").json() == {"unit_id": unit_id, "name": "清水镇", "version": 2}
    before = api.get(f"/selection/units/{unit_id}", as_of=registered_at.isoformat()).json()
    assert before == {"unit_id": unit_id, "name": "清水乡", "version": 1}


def test_the_name_a_unit_already_has_changes_nothing(api: Api) -> None:
    unit_id = uid("township")
    register_unit(api, unit_id, {"name": "白马镇"}, "hr")
    before = event_count(api)

    again = register_unit(api, unit_id, {"name": "白马镇 "}, "od")

    assert again.status_code == 200, again.text
    assert (again.json()["events"], again.json()["version"]) == ([], 1)
    assert event_count(api) == before


@pytest.mark.parametrize("unit_id, body, field", [
    ("bad unit!", {"name": "清水镇"}, "unit_id"),
    ("-starts-with-a-dash", {"name": "清水镇"}, "unit_id"),
    ("x" * 65, {"name": "清水镇"}, "unit_id"),
    ("qingshui-township", {"name": ""}, "name"),
    ("qingshui-township", {"name": "   "}, "name"),
    ("qingshui-township", {"name": "镇" * 61}, "name"),
    ("qingshui-township", {}, "name"),
    ("qingshui-township", {"name": "清水镇", "code": "QS"}, "code"),
])
def test_a_bad_unit_id_or_name_is_refused_naming_the_field(api: Api, unit_id: str, body: dict, field: str) -> None:
    before = event_count(api)

    refused = register_unit(api, unit_id, body, "hr")

    assert refused.status_code == 422, refused.text
    assert refused.json()["rule"] == "validation" and set(refused.json()["errors"]) == {field}
    assert field in refused.json()["detail"]
    assert event_count(api) == before


def test_a_name_of_sixty_characters_is_taken(api: Api) -> None:
    unit_id = uid("bureau")
    assert register_unit(api, unit_id, {"name": "局" * 60}, "hr").status_code == 200
    assert api.get(f"/selection/units/{unit_id}").json()["name"] == "局" * 60


@pytest.mark.parametrize("as_", ["finance", "qingshui", "pc", "auditor", "agency"])
def test_only_registrars_register_units(api: Api, as_: str) -> None:
    unit_id = uid("township")
    before = event_count(api)

    refused = register_unit(api, unit_id, {"name": "清水镇"}, as_)

    assert refused.status_code == 403 and refused.json()["rule"] == "role_not_allowed", refused.text
    assert event_count(api) == before
    assert api.get(f"/selection/units/{unit_id}").status_code == 404


def test_an_unknown_unit_is_not_found_by_its_rule(api: Api) -> None:
    missing = api.get(f"/selection/units/{uid('nowhere')}")
    assert missing.status_code == 404 and missing.json()["rule"] == "unit_not_found", missing.text


def test_a_unit_rename_honours_if_match_and_an_idempotency_key(api: Api) -> None:
    unit_id = uid("township")
    register_unit(api, unit_id, {"name": "清水乡"}, "hr")
    before = event_count(api)

    stale = register_unit(api, unit_id, {"name": "清水镇"}, "hr", **{"If-Match": "0"})

    assert stale.status_code == 412 and stale.json()["rule"] == "if_match", stale.text
    assert event_count(api) == before
    key = {"If-Match": "1", "Idempotency-Key": uid("key")}
    first = register_unit(api, unit_id, {"name": "清水镇"}, "hr", **key)
    retry = register_unit(api, unit_id, {"name": "清水镇"}, "hr", **key)
    assert first.status_code == 200 and first.json()["version"] == 2, first.text
    assert retry.json()["replayed"] is True and retry.json()["events"] == first.json()["events"]
    assert event_count(api) == before + 1


def test_the_unit_list_pages_by_unit_id_for_every_reader(api: Api) -> None:
    prefix = uid("list")
    names = {f"{prefix}-a": "清水镇", f"{prefix}-b": "白马镇", f"{prefix}-c": "县财政局"}
    for unit_id in reversed(list(names)):
        register_unit(api, unit_id, {"name": names[unit_id]}, "hr")
    [(_, _, before_rename)] = unit_events(f"{prefix}-b")
    register_unit(api, f"{prefix}-b", {"name": "白马乡"}, "hr")

    listed = api.get("/selection/units", limit=1000).json()

    ids = [u["unit_id"] for u in listed["items"]]
    assert ids == sorted(ids) and listed["total"] == len(ids)
    first = ids.index(f"{prefix}-a")
    assert listed["items"][first:first + 3] == [{"unit_id": f"{prefix}-a", "name": "清水镇", "version": 1},
                                               {"unit_id": f"{prefix}-b", "name": "白马乡", "version": 2},
                                               {"unit_id": f"{prefix}-c", "name": "县财政局", "version": 1}]
    page = api.get("/selection/units", limit=2, offset=first + 1).json()
    assert (page["total"], page["limit"], page["offset"]) == (listed["total"], 2, first + 1)
    assert [u["unit_id"] for u in page["items"]] == [f"{prefix}-b", f"{prefix}-c"]
    then = api.get("/selection/units", limit=1000, as_of=before_rename.isoformat()).json()["items"]
    assert [u for u in then if u["unit_id"].startswith(prefix)] == [
        {"unit_id": f"{prefix}-b", "name": "白马镇", "version": 1}, {"unit_id": f"{prefix}-c", "name": "县财政局", "version": 1}]
    for reader in ("finance", "qingshui", "agency", "pc", "hr"):
        assert api.get("/selection/units", as_=reader, limit=1000).json()["items"] == listed["items"], reader


def test_an_erased_cadre_who_changed_unit_is_listed_alike_now_and_as_of_now_to_every_unit(api: Api) -> None:
    """A unit change is sealed with the cadre's name (CadreUpdated.changes) and reads as erased afterwards; the
    erasure retains the unit the cadre had, so the cadre stays where it was moved, in the list the service keeps
    folded as in a fresh fold (it had gone back to the registration's unit)."""
    cadre_id = cadre(api)  # county-finance
    moved = api.post("/selection/cadres", {"cadre_id": cadre_id, "name": "李明", "rank": "deputy_section",
                                           "home_unit": "county-education", "birth_date": "1992-05-01",
                                           "grassroots_experience": False, "fit_for_duty": True, "reserve_cadre": True},
                     "hr")
    assert moved.status_code == 200, moved.text

    def listed(reader: str, **params: Any) -> list[tuple[str, str]]:
        items = api.get("/selection/cadres", reader, limit=1000, **params).json()["items"]
        return [(c["cadre_id"], c["home_unit"]) for c in items if c["cadre_id"] == cadre_id]

    assert listed("education") == [(cadre_id, "county-education")] and listed("finance") == []  # folded and kept
    assert api.post(f"/selection/cadres/{cadre_id}/erasure", {"reason": "本人依法申请删除"}, "od").status_code == 200

    for reader in ("finance", "education"):
        assert listed(reader) == listed(reader, as_of=now_iso()), reader
        for listed_id, _ in listed(reader):
            assert api.get(f"/selection/cadres/{listed_id}", reader).status_code == 200, reader
    assert listed("education") == [(cadre_id, "county-education")] and listed("finance") == []
    assert api.get(f"/selection/cadres/{cadre_id}", "education").json()["rank"] == "deputy_section"


def test_after_an_erasure_the_reasons_given_about_the_cadre_read_as_erased_in_the_log_and_the_feed(
        api: Api, running: dict[str, Any]) -> None:
    """A withdrawal, a rejection, an approval and a reserve-pool change each carry a reason about the person
    (health, family, discipline): sealed under the cadre's key like the personal fields, gone with the erasure."""
    cadre_id, mark = cadre(api), uid("r")[-6:]
    reasons = {k: f"{k}{mark}" for k in ("因病", "家庭困难", "违纪", "党委认为", "退出后备")}

    def step(path: str, body: dict[str, Any], who: str) -> None:
        assert (done := api.post(path, body, who)).status_code in (200, 201), done.text

    def recommended() -> str:
        nomination_id, done = recommend(api, cadre_id)
        assert done.status_code == 201, done.text
        return nomination_id

    step(f"/selection/cadres/{cadre_id}/reserve-pool/removal", {"reason": reasons["退出后备"]}, "od")
    step(f"/selection/nominations/{(withdrawn := recommended())}/withdrawal", {"reason": reasons["因病"]}, "finance")
    step(f"/selection/nominations/{(rejected := recommended())}/inspection", {"findings": "合格", "passed": True}, "od")
    step(f"/selection/nominations/{rejected}/decision", {"approved": False, "decision_ref": "县委〔2025〕3号",
                                                        "decision_date": "2025-03-01", "reason": reasons["违纪"]}, "pc")
    step(f"/selection/nominations/{(approved := recommended())}/inspection",
         {"findings": "合格", "passed": True, "reason": reasons["家庭困难"]}, "od")
    step(f"/selection/nominations/{approved}/decision", {"approved": True, "decision_ref": "县委〔2025〕4号",
                                                        "decision_date": "2025-03-01", "reason": reasons["党委认为"]}, "pc")
    assert all(r in whole_feed(api) for r in reasons.values())  # revealed while the cadre's data is kept

    step(f"/selection/cadres/{cadre_id}/erasure", {"reason": "本人依法申请删除"}, "od")

    with psycopg.connect(running["db"]) as conn:
        raw = conn.execute("SELECT string_agg(data::text || metadata::text, ' ') FROM selection.events").fetchone()[0]
    feed = whole_feed(api)
    for reason in reasons.values():
        assert reason not in raw and reason not in feed, reason
    for nomination_id in (withdrawn, rejected, approved):
        assert mark not in json.dumps(api.get(f"/selection/nominations/{nomination_id}").json(), ensure_ascii=False)
