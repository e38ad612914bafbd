"""Rebuilding the read models from the sources' feeds: the result equals what the live consumer built,
row for row, and switching it in loses nothing while the service keeps answering."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kombu import Connection

from services.backbone.relay import events_exchange
from services.reporting.readmodel import TABLES
from services.reporting.rebuild import run_rebuild
from tests.support import reporting_scenario as scenario
from tests.support.processes import rpc_config
from tests.support.readmodels import differences
from tests.support.reporting_system import HR, Running, running_system, wait_until_projected


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, Any]]]:
    with running_system(tmp_path_factory.mktemp("logs")) as run:
        ids = scenario.ids_for("rebuild")
        scenario.first(run.sources, ids)
        run.sources.append("posting", f"placement-{ids['P2']}", "PlacementStarted", placement_id=ids["P2"])  # parked
        scenario.later(run.sources, ids)
        run.sources.append("selection", "unit-qingshui-township", "UnitRegistered", HR, unit_id="qingshui-township",
                           name="清水乡")
        run.sources.append("selection", "unit-qingshui-township", "UnitRenamed", HR, unit_id="qingshui-township",
                           name="清水镇", previous_name="清水乡")
        wait_until_projected(run.db, run.sources.total - 1)
        yield run, ids


def rebuild(run: Running, target: str, **options: Any) -> dict[str, Any]:
    return run_rebuild(run.db, rpc_config(run.amqp_uri), target, show=False, batch=50, **options)


def test_read_models_rebuilt_from_scratch_equal_the_live_ones_row_for_row(county: tuple[Running, dict[str, Any]]) -> None:
    run, _ = county
    target = f"rb_{uuid.uuid4().hex[:8]}"

    result = rebuild(run, target, switch=False)

    try:
        assert sum(result["applied"].values()) == run.sources.total
        for table in TABLES:
            only_live, only_rebuilt, rows = differences(run.db, "reporting", target, table)
            assert (only_live, only_rebuilt) == (0, 0), f"{table} differs"
            assert rows > 0, f"{table} is empty: the scenario should fill every table"
        with psycopg.connect(run.db) as conn:
            cursors = [conn.execute(f'SELECT source, era, tx_id, position FROM "{s}".consumer_cursor ORDER BY 1').fetchall()
                       for s in ("reporting", target)]
            parked = [conn.execute(f'SELECT event_id, type FROM "{s}".parked_messages').fetchall()
                      for s in ("reporting", target)]
        assert cursors[0] == cursors[1]
        # the keys and indexes the load left for later are all there, as in the live schema
        assert indexes(run.db, target) == indexes(run.db, "reporting")
        # distinct: the live consumer may park one event twice when the broker and its catch-up race (a backbone race)
        assert len(set(parked[0])) == 1 and set(parked[0]) == set(parked[1])
    finally:
        with psycopg.connect(run.db, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')


def indexes(db: str, schema: str) -> set[tuple[str, str, str]]:
    """Every index of the schema (primary keys included): (table, name, definition without the schema's name)."""
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s", (schema,))
        return {(table, name, definition.replace(f"{schema}.", "")) for table, name, definition in rows}


def test_a_rebuild_switches_in_while_the_service_answers_and_events_keep_arriving(
        county: tuple[Running, dict[str, Any]]) -> None:
    run, ids = county
    statuses: list[int] = []
    stop = threading.Event()

    def keep_busy() -> None:
        while not stop.is_set():
            statuses.append(run.api.get("/reporting/placements").status_code)
            run.sources.append("posting", f"placement-{ids['P1']}", "CheckInRecorded", placement_id=ids["P1"],
                               checked_on="2025-07-01", thinking="", work="", met_by="od.zhang", notes="")
            time.sleep(0.02)

    busy = threading.Thread(target=keep_busy)
    busy.start()
    try:
        result = rebuild(run, f"rb_{uuid.uuid4().hex[:8]}", switch=True)
    finally:
        stop.set()
        busy.join()
    run.sources.append("posting", f"placement-{ids['P1']}", "TrainingRecorded", placement_id=ids["P1"], course="党史",
                       provider="县委党校", hours=8, completed_on="2025-08-01")
    wait_until_projected(run.db, run.sources.total - 1)

    assert result["target"] == "reporting" and result["old"] is None
    assert statuses and set(statuses) == {200}
    with psycopg.connect(run.db) as conn:
        schemas = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'reporting%'")]
        timeline = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM reporting.timeline").fetchone()
    assert schemas == ["reporting"]
    assert timeline == (run.sources.total - 1, run.sources.total - 1)  # every event once; the malformed one parked
    p1 = next(p for p in run.api.get("/reporting/placements").json()["items"] if p["placement_id"] == ids["P1"])
    assert p1["trainings"] == 2 and p1["check_ins"] == 1 + len(statuses)


def park_a_test_message(run: Running) -> int:
    """Publish a message that is no event on posting's exchange, as a stray tool would; returns its parked id."""
    known = {p["id"] for p in run.api.get("/reporting/parked", as_="operator", include_resolved="true").json()["items"]}
    with Connection(run.amqp_uri) as broker:
        broker.Producer().publish({"note": "test message"}, exchange=events_exchange("posting"),
                                  routing_key="posting.Test", serializer="json", declare=[events_exchange("posting")])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        parked = run.api.get("/reporting/parked", as_="operator").json()["items"]
        if found := [p["id"] for p in parked if p["id"] not in known]:
            return int(found[0])
        time.sleep(0.1)
    raise TimeoutError("the test message was not parked")


def stored_parked(run: Running, parked_id: int) -> tuple[Any, ...] | None:
    with psycopg.connect(run.db) as conn:
        return conn.execute("SELECT * FROM reporting.parked_messages WHERE id = %s", (parked_id,)).fetchone()


def test_a_rebuild_keeps_who_resolved_a_parked_message_how_and_why(county: tuple[Running, dict[str, Any]]) -> None:
    run, _ = county
    test_message = park_a_test_message(run)
    dismissed = run.api.post(f"/reporting/parked/{test_message}/dismiss", {"reason": "test message, not an event"},
                             as_="operator")
    assert dismissed.status_code == 200, dismissed.text
    before = run.api.get("/reporting/parked", as_="operator", include_resolved="true").json()["items"]
    stored_before = stored_parked(run, test_message)

    rebuild(run, f"rb_{uuid.uuid4().hex[:8]}", switch=True)

    after = run.api.get("/reporting/parked", as_="operator", include_resolved="true").json()["items"]
    [kept] = [p for p in after if p["id"] == test_message]
    assert kept == next(p for p in before if p["id"] == test_message)
    assert stored_parked(run, test_message) == stored_before  # its body and every other column too
    assert (kept["resolution"], kept["resolved_by"], kept["resolution_note"]) == (
        "dismissed", "ops.he", "test message, not an event")
    open_now = [p for p in after if p["resolution"] is None]
    assert open_now and min(p["id"] for p in open_now) > max(p["id"] for p in before)  # parked again, new ids
    assert len({p["id"] for p in after}) == len(after)


def test_the_rebuild_command_prints_no_eventlet_deprecation_warning() -> None:
    done = subprocess.run([sys.executable, "-m", "services.reporting.rebuild", "--help"], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])

    assert done.returncode == 0 and "--keep-old" in done.stdout
    assert done.stderr == ""
