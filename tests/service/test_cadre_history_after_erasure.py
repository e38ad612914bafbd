"""What an auditor asks after a cadre's erasure -- "what was this cadre's rank on that day?" -- is answered from
the updates themselves (CadreUpdated v2 keeps rank, unit and flags in clear), by selection as of that day and by
reporting after a rebuild; an update stored as v1 (changes sealed whole) still reads, and its history is still
lost with the erasure. Real selection and reporting processes (stand-in posting and assessment feeds),
PostgreSQL and RabbitMQ."""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from services.backbone.store import EventStore
from services.backbone.vault import ERASED, Vault
from services.reporting.rebuild import run_rebuild
from tests.conftest import new_event, sibling_db
from tests.support.api import Api, free_port, uid
from tests.support.processes import ServiceProcess, rpc_config, throwaway_vhost
from tests.support.reporting_system import reset_schemas, side_by_side

DB = sibling_db("cadre_history")


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Selection and reporting, each on a port of its own; posting and assessment stand-ins for their feeds."""
    reset_schemas(DB)
    logs = tmp_path_factory.mktemp("logs")
    ports = {"selection": free_port(), "reporting": free_port()}
    with throwaway_vhost() as amqp_uri, ConnectionPool(DB, min_size=1, max_size=2) as pool:
        env = {"AMQP_URI": amqp_uri, "FOURGATES_DB": DB, "FOURGATES_RELAY_POLL_SECONDS": "0.05", "DB_POOL_SIZE": "4"}

        def process(target: str, name: str) -> ServiceProcess:
            port = {"WEB_SERVER_ADDRESS": f"127.0.0.1:{ports[name]}"} if name in ports else {}
            return ServiceProcess(target, name, {**env, **port}, logs)

        processes = [process("services.selection.service", "selection"),
                     process("services.reporting.service", "reporting"),
                     process("tests.support.reporting_system:FakePosting", "posting"),
                     process("tests.support.reporting_system:FakeAssessment", "assessment")]
        try:
            side_by_side(processes, "start")
            yield {"selection": Api(f"http://127.0.0.1:{ports['selection']}"), "pool": pool, "amqp_uri": amqp_uri,
                   "reporting": Api(f"http://127.0.0.1:{ports['reporting']}")}
        finally:
            side_by_side(processes, "stop")


def register(api: Api, cadre_id: str, **changes: Any) -> None:
    body = {"cadre_id": cadre_id, "name": "李明", "rank": "deputy_section", "home_unit": "county-finance",
            "birth_date": "1992-05-01", "grassroots_experience": False, "fit_for_duty": True, "reserve_cadre": False,
            **changes}
    assert (done := api.post("/selection/cadres", body, "hr")).status_code == 200, done.text


def erase(api: Api, cadre_id: str) -> None:
    done = api.post(f"/selection/cadres/{cadre_id}/erasure", {"reason": "本人依法申请删除"}, "od")
    assert done.status_code == 200, done.text


def moment() -> str:
    """Now, between two commands (their events' recorded_at fall either side of it)."""
    time.sleep(0.05)
    then = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    return then


def selection_cadre(county: dict[str, Any], cadre_id: str, **params: Any) -> dict[str, Any]:
    answer = county["selection"].get(f"/selection/cadres/{cadre_id}", **params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def reporting_cadre(county: dict[str, Any], cadre_id: str, **params: Any) -> dict[str, Any]:
    answer = county["reporting"].get("/reporting/cadres", "od", cadre_id=cadre_id, **params)
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["items"]
    return dict(row)


def projected(county: dict[str, Any], cadre_id: str, events: int) -> None:
    """Wait until reporting's timeline holds `events` events of the cadre."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        timeline = county["reporting"].get("/reporting/timeline", "od", cadre_id=cadre_id, limit=100).json()
        if len(timeline["items"]) >= events:
            return
        time.sleep(0.1)
    raise TimeoutError(f"reporting did not project {events} events of {cadre_id}")


def rebuild(county: dict[str, Any]) -> None:
    """Reporting's read models rebuilt from the sources' feeds, and switched in (the old ones dropped)."""
    run_rebuild(DB, rpc_config(county["amqp_uri"]), f"rb_{uuid.uuid4().hex[:8]}", show=False, batch=50)


def test_after_an_erasure_an_updated_rank_is_still_the_rank_of_the_days_between_the_update_and_the_erasure(
        county: dict[str, Any]) -> None:
    cadre_id, new_name = uid("c"), f"王{uid('n')[-6:]}"
    register(county["selection"], cadre_id)
    registered = moment()
    register(county["selection"], cadre_id, rank="section_chief", name=new_name)
    between = moment()
    erase(county["selection"], cadre_id)

    then = selection_cadre(county, cadre_id, as_of=between)
    assert (then["rank"], then["name"]) == ("section_chief", ERASED)  # the rank registered was deputy_section
    assert new_name not in json.dumps(then, ensure_ascii=False)
    assert selection_cadre(county, cadre_id, as_of=registered)["rank"] == "deputy_section"
    assert selection_cadre(county, cadre_id)["rank"] == "section_chief"
    feed = json.dumps(county["selection"].get("/selection/feed", limit=1000).json()["events"], ensure_ascii=False)
    assert '"new": "section_chief"' in feed and new_name not in feed

    projected(county, cadre_id, 3)
    timeline = county["reporting"].get("/reporting/timeline", "od", cadre_id=cadre_id).json()["items"]
    [update] = [row["data"] for row in timeline if row["type"] == "selection.CadreUpdated"]
    assert update == {"cadre_id": cadre_id, "changes": {"rank": {"old": "deputy_section", "new": "section_chief"}},
                      "personal_changes": {}}  # erased in reporting's copy: the personal change only
    live = reporting_cadre(county, cadre_id, as_of=between)
    rebuild(county)
    rebuilt = reporting_cadre(county, cadre_id, as_of=between)
    assert (rebuilt["rank"], rebuilt["name"]) == (live["rank"], live["name"]) == ("section_chief", ERASED)
    assert reporting_cadre(county, cadre_id, as_of=registered)["rank"] == "deputy_section"
    assert new_name not in json.dumps(county["reporting"].get("/reporting/timeline", "od", cadre_id=cadre_id).json(),
                                      ensure_ascii=False)


def test_an_update_stored_as_v1_still_reads_and_its_history_is_lost_with_the_erasure(county: dict[str, Any]) -> None:
    """v1 sealed all of an update's changes under the cadre's key: they read until the erasure, then as erased; the
    erasure's retained values keep the cadre's last rank, but not the rank it had between."""
    cadre_id, new_name = uid("c"), f"赵{uid('n')[-6:]}"
    register(county["selection"], cadre_id)
    pool = county["pool"]
    sealed = Vault(pool, "selection").seal(cadre_id, {"cadre_id": cadre_id, "changes": {
        "rank": {"old": "deputy_section", "new": "section_chief"}, "name": {"old": "李明", "new": new_name}}},
                                           ("changes",))
    EventStore(pool, "selection").append(f"cadre-{cadre_id}", [new_event("selection.CadreUpdated", sealed)],
                                         expected_version=1)
    between = moment()

    now = selection_cadre(county, cadre_id)
    assert (now["rank"], now["name"], now["version"]) == ("section_chief", new_name, 2)
    projected(county, cadre_id, 2)
    assert (reporting_cadre(county, cadre_id)["rank"], reporting_cadre(county, cadre_id)["name"]) == (
        "section_chief", new_name)

    erase(county["selection"], cadre_id)

    then = selection_cadre(county, cadre_id, as_of=between)
    assert (then["rank"], then["name"]) == ("deputy_section", ERASED)  # as documented: lost for a v1 update
    assert selection_cadre(county, cadre_id)["rank"] == "section_chief"  # what the erasure retained
    projected(county, cadre_id, 3)
    timeline = county["reporting"].get("/reporting/timeline", "od", cadre_id=cadre_id).json()["items"]
    [update] = [row for row in timeline if row["type"] == "selection.CadreUpdated"]
    assert update["data"] == {"cadre_id": cadre_id, "changes": {}}  # erased in reporting's copy too, as stored (v1)
    assert new_name not in json.dumps(timeline, ensure_ascii=False)


def born(cadre_id: str) -> str:
    """A birth date of the cadre's own (from its id), to be looked for in the log, the feed and the read models."""
    return (date(1980, 1, 1) + timedelta(days=int(cadre_id.encode().hex(), 16) % 5000)).isoformat()


def about(county: dict[str, Any], cadre_id: str) -> tuple[str, str, str]:
    """The cadre's rows in selection's log (data and metadata), its events in the feed, its reporting timeline."""
    with county["pool"].connection() as conn:
        raw = conn.execute("SELECT string_agg(data::text || metadata::text, ' ') FROM selection.events"
                           " WHERE stream = %s", (f"cadre-{cadre_id}",)).fetchone()[0]
    feed = [e for e in county["selection"].get("/selection/feed", limit=1000).json()["events"] if cadre_id in json.dumps(e)]
    timeline = county["reporting"].get("/reporting/timeline", "od", cadre_id=cadre_id, limit=100).json()
    return raw, json.dumps(feed, ensure_ascii=False), json.dumps(timeline, ensure_ascii=False)


def test_after_an_erasure_the_birth_date_registered_appears_nowhere(county: dict[str, Any]) -> None:
    cadre_id = uid("c")
    birth_date = born(cadre_id)
    register(county["selection"], cadre_id, birth_date=birth_date)
    assert selection_cadre(county, cadre_id)["birth_date"] == birth_date
    raw, feed, _ = about(county, cadre_id)
    assert birth_date not in raw and birth_date in feed  # sealed in the log, revealed to subscribers

    erase(county["selection"], cadre_id)

    view = selection_cadre(county, cadre_id)
    assert (view["erased"], view["birth_date"], view["rank"]) == (True, None, "deputy_section")
    projected(county, cadre_id, 2)
    raw, feed, timeline = about(county, cadre_id)
    for place in (raw, feed, timeline, json.dumps(reporting_cadre(county, cadre_id), ensure_ascii=False)):
        assert birth_date not in place
    assert f'"birth_date": "{ERASED}"' in feed
    exported = county["selection"].get("/selection/cadres/export.csv", "hr")
    assert exported.status_code == 200 and cadre_id in exported.text and birth_date not in exported.text
    listed = county["selection"].get("/selection/cadres", "od", limit=1000)
    assert listed.status_code == 200 and birth_date not in listed.text


def test_a_registration_stored_as_v1_still_reads_and_keeps_its_birth_date_through_the_erasure(
        county: dict[str, Any]) -> None:
    """v1 sealed the name alone: the birth date it holds in clear in the log outlives the erasure (a documented
    limit of events stored before v2), the name does not."""
    cadre_id, name = uid("c"), f"钱{uid('n')[-6:]}"
    birth_date = born(cadre_id)
    pool = county["pool"]
    data = {"cadre_id": cadre_id, "name": name, "rank": "deputy_section", "home_unit": "county-finance",
            "birth_date": birth_date, "grassroots_experience": False, "fit_for_duty": True, "reserve_cadre": False,
            "open_disciplinary_matter": False}
    sealed = Vault(pool, "selection").seal(cadre_id, data, ("name",))
    EventStore(pool, "selection").append(f"cadre-{cadre_id}", [new_event("selection.CadreRegistered", sealed)],
                                         expected_version=0)
    assert (selection_cadre(county, cadre_id)["name"], selection_cadre(county, cadre_id)["birth_date"]) == (
        name, birth_date)

    erase(county["selection"], cadre_id)

    view = selection_cadre(county, cadre_id)
    assert (view["erased"], view["name"], view["birth_date"]) == (True, ERASED, birth_date)
    raw, feed, _ = about(county, cadre_id)
    assert name not in raw and name not in feed and birth_date in raw
