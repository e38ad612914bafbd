"""The auditors' command line against a real database: verify, history, export."""
from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg_pool import ConnectionPool

from services.auditor.cli import main
from services.backbone.audit import Sequencer
from services.backbone.migrations import ensure_database, migrate
from services.backbone.store import EventStore
from tests.conftest import TEST_DB, new_event

AUDIT_DB = TEST_DB.replace("dbname=fourgates_test", "dbname=fourgates_test_auditor")


@pytest.fixture
def log(tmp_path: Path) -> Iterator[tuple[EventStore, list, Path]]:
    ensure_database(AUDIT_DB)
    with psycopg.connect(AUDIT_DB, autocommit=True) as conn:
        for schema in ("selection", "posting", "assessment", "reporting"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    migrate(AUDIT_DB, "selection", service="none")
    with ConnectionPool(AUDIT_DB, min_size=1, max_size=2) as pool:
        store = EventStore(pool, "selection")
        events = [
            store.append("cadre-c1", [new_event("selection.CadreRegistered", {"cadre_id": "c1"}, reason="HR sync")])[0],
            store.append("nomination-n1", [new_event("selection.NominationRecommended", {"cadre_id": "c1"},
                                                     policy_version="county-2025", correlation_id="req-7")])[0],
            store.append("cadre-c2", [new_event("selection.CadreRegistered", {"cadre_id": "c2"})])[0],
        ]
        sequencer = Sequencer(store, AUDIT_DB, "selection", head_dir=tmp_path)
        deadline, sealed = time.monotonic() + 10, 0
        while sealed < 3 and time.monotonic() < deadline:
            sealed += sequencer.seal_batch()
        sequencer.export_head()
        yield store, events, tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--db", AUDIT_DB, *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_verify_reports_ok_then_names_an_altered_event(log: tuple) -> None:
    _, events, heads = log
    assert run("verify", "--heads", str(heads)) [0] == 0

    with psycopg.connect(AUDIT_DB, autocommit=True) as conn:
        conn.execute("UPDATE selection.events SET metadata = jsonb_set(metadata, '{reason}', '\"edited\"') WHERE event_id = %s",
                     (events[1].event_id,))
    code, output = run("verify", "--heads", str(heads))

    assert code == 1
    assert "CHANGED at audit no 2" in output


def test_history_of_a_cadre_lists_its_events_with_actor_reason_and_policy(log: tuple) -> None:
    code, output = run("history", "--cadre", "c1")

    assert code == 0
    assert "CadreRegistered" in output and "NominationRecommended" in output and "county-2025" in output
    assert "2 events" in output


def test_history_under_a_correlation_id(log: tuple) -> None:
    code, output = run("history", "--correlation", "req-7")
    assert code == 0 and "1 events" in output


def test_export_as_cloudevents_lines_and_as_csv(log: tuple) -> None:
    code, output = run("export", "--format", "jsonl")
    lines = [json.loads(line) for line in output.splitlines()]
    assert code == 0 and len(lines) == 3 and all(line["specversion"] == "1.0" for line in lines)

    code, output = run("export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(output)))
    assert [r["type"] for r in rows] == ["selection.CadreRegistered", "selection.NominationRecommended",
                                         "selection.CadreRegistered"]
    assert rows[0]["reason"] == "HR sync"


def test_replay_as_of_a_moment_shows_what_was_known_then(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime

    from services.backbone.commands import Aggregates, CommandMeta
    from services.backbone.domain import Actor, Context
    from services.selection import domain as d
    from services.selection.handlers import REGISTRY

    ensure_database(AUDIT_DB)
    with psycopg.connect(AUDIT_DB, autocommit=True) as conn:
        for schema in ("selection", "posting", "assessment", "reporting", "replay_test"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    migrate(AUDIT_DB, "selection", service="selection")
    hr = Actor("hr.sync", "integration", "county-hr")

    def register(cadre_id: str) -> None:
        cmd = d.RegisterCadre(cadre_id, f"王{cadre_id}", "deputy_section", "county-finance", date(1990, 1, 1), False, True)
        meta = CommandMeta(Context(hr, datetime.now(UTC), "HR sync"), f"reg-{cadre_id}", f"reg-{cadre_id}", "selection")
        agg.execute(f"cadre-{cadre_id}", d.fold_cadre, lambda s: d.decide_register_cadre(s, cmd, meta.context), meta)

    with ConnectionPool(AUDIT_DB, min_size=1, max_size=2) as pool:
        agg = Aggregates(EventStore(pool, "selection"), REGISTRY)
        register("early")
        time.sleep(1.1)
        between = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        time.sleep(1.1)
        register("late")
        time.sleep(0.5)

    code, output = run("replay", "--as-of", between, "--into", "replay_test", "--export", str(tmp_path / "out"))

    assert code == 0, output
    with psycopg.connect(AUDIT_DB) as conn:
        cadres = [r[0] for r in conn.execute("SELECT DISTINCT cadre_id FROM replay_test.cadres")]
    assert cadres == ["early"]
    assert (tmp_path / "out" / "cadres.csv").exists()
