"""The auditors' command line against a real database: verify, history, export (replay: test_auditor_replay.py)."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg_pool import ConnectionPool

from services.auditor.cli import main
from services.backbone.audit import Sequencer, heads_path
from services.backbone.migrations import ensure_database, migrate
from services.backbone.store import EventStore
from services.backbone.vault import ERASED, Vault
from tests.conftest import TEST_DB, new_event, sibling_db

AUDIT_DB = sibling_db("auditor")


def fresh_services() -> None:
    """The audit database with no service schema left by an earlier test."""
    ensure_database(AUDIT_DB)
    with psycopg.connect(AUDIT_DB, autocommit=True) as conn:
        for schema in ("selection", "posting", "assessment", "reporting"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def seal_chain(store: EventStore, events: int, heads: Path) -> None:
    """Seal the first `events` events into selection's audit chain and export its head into `heads`."""
    sequencer = Sequencer(store, AUDIT_DB, "selection", head_dir=heads)
    deadline, sealed = time.monotonic() + 10, 0
    while sealed < events and time.monotonic() < deadline:
        sealed += sequencer.seal_batch()
    sequencer.export_head()


@pytest.fixture
def log(tmp_path: Path) -> Iterator[tuple[EventStore, list, Path]]:
    fresh_services()
    migrate(AUDIT_DB, "selection", service="none")
    with ConnectionPool(AUDIT_DB, min_size=1, max_size=2) as pool:
        store = EventStore(pool, "selection")
        events = [
            store.append("cadre-c1", [new_event("selection.CadreRegistered", {"cadre_id": "c1"}, reason="HR sync")])[0],
            store.append("nomination-n1", [new_event("selection.NominationRecommended", {"cadre_id": "c1"},
                                                     policy_version="county-2025", correlation_id="req-7")])[0],
            store.append("cadre-c2", [new_event("selection.CadreRegistered", {"cadre_id": "c2"})])[0],
        ]
        seal_chain(store, 3, tmp_path)
        yield store, events, tmp_path


@pytest.fixture
def sealed_log(tmp_path: Path) -> Iterator[Path]:
    """Selection's log with names and reasons sealed as the service seals them: c1 living, c2 erased. Yields the heads."""
    fresh_services()
    migrate(AUDIT_DB, "selection", service="none")
    with ConnectionPool(AUDIT_DB, min_size=1, max_size=2) as pool:
        vault = Vault(pool, "selection")
        store = EventStore(pool, "selection", vault)

        def personal(type_: str, cadre_id: str, field: str, value: str, reason: str, **meta: str) -> list:
            data = vault.seal(cadre_id, {"cadre_id": cadre_id, field: value}, (field,))
            return [new_event(type_, data, reason=vault.seal_text(cadre_id, reason), **meta)]

        store.append("cadre-c1", personal("selection.CadreRegistered", "c1", "name", "王小明", "HR sync"))
        store.append("nomination-n1", personal("selection.NominationRecommended", "c1", "reason", "群众基础好",
                                               "推荐：基层经验丰富", correlation_id="req-8"))
        store.append("cadre-c2", personal("selection.CadreRegistered", "c2", "name", "李四", "HR sync"))
        with store.transaction() as conn:
            vault.erase(conn, "c2")
        seal_chain(store, 3, tmp_path)
    yield tmp_path


def run(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--db", AUDIT_DB, *args], env={"COLUMNS": "200", **(env or {})})
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


def test_verify_passes_on_a_recreated_database_and_says_loudly_that_heads_of_the_earlier_one_were_not_compared(
        log: tuple) -> None:
    _, _, heads = log
    with psycopg.connect(TEST_DB, autocommit=True) as conn:  # the operator's DROP DATABASE and make run again
        conn.execute(f"DROP DATABASE {psycopg.conninfo.conninfo_to_dict(AUDIT_DB)['dbname']} WITH (FORCE)")
    fresh_services()
    migrate(AUDIT_DB, "selection", service="none")
    with ConnectionPool(AUDIT_DB, min_size=1, max_size=2) as pool:
        store = EventStore(pool, "selection")
        for cadre in ("c7", "c8"):
            store.append(f"cadre-{cadre}", [new_event("selection.CadreRegistered", {"cadre_id": cadre})])
        seal_chain(store, 2, heads)

    code, output = run("verify", "--heads", str(heads))

    assert code == 0, output
    assert "was dropped and created again" in output and "were not compared" in output
    assert "escalate" in output and "archive" in output
    assert run("verify", "--heads", str(heads), "--strict")[0] == 1

    with psycopg.connect(AUDIT_DB, autocommit=True) as conn:  # the newest event of the new database, with its seal
        conn.execute("DELETE FROM selection.audit_chain WHERE audit_no = 2")
        conn.execute("DELETE FROM selection.events WHERE stream = 'cadre-c8'")
    code, output = run("verify", "--heads", str(heads))
    assert code == 1 and "TRUNCATED at audit no 2" in output


def test_verify_passes_on_a_recreated_database_whose_earlier_heads_were_exported_without_an_identity(
        log: tuple) -> None:
    _, _, heads = log
    unidentified = heads_path(heads, AUDIT_DB, "selection")  # where, and as, heads were exported before identities
    lines = [json.loads(line) for written in heads.rglob("selection.heads.jsonl") for line in written.read_text().splitlines()]
    for written in heads.rglob("selection.heads.jsonl"):
        written.unlink()
    unidentified.write_text("".join(json.dumps({k: v for k, v in line.items() if k != "database"}) + "\n" for line in lines))
    with psycopg.connect(TEST_DB, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {psycopg.conninfo.conninfo_to_dict(AUDIT_DB)['dbname']} WITH (FORCE)")
    fresh_services()
    migrate(AUDIT_DB, "selection", service="none")
    with ConnectionPool(AUDIT_DB, min_size=1, max_size=2) as pool:
        store = EventStore(pool, "selection")
        store.append("cadre-c7", [new_event("selection.CadreRegistered", {"cadre_id": "c7"})])
        seal_chain(store, 1, heads)

    code, output = run("verify", "--heads", str(heads))

    assert code == 0, output
    assert "was dropped and created again" in output and "its identity not recorded" in output
    assert str(unidentified) in output


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


def test_history_shows_personal_fields_as_the_services_do(sealed_log: Path) -> None:
    code, output = run("history", "--cadre", "c1")

    assert code == 0, output
    assert "推荐：基层经验丰富" in output and "HR sync" in output
    assert "enc:" not in output

    code, output = run("history", "--correlation", "req-8")
    assert code == 0 and "推荐：基层经验丰富" in output


def test_export_reveals_living_persons_and_shows_erased_ones_as_erased(sealed_log: Path) -> None:
    code, output = run("export", "--format", "jsonl")

    assert code == 0, output
    assert "__enc__" not in output and "enc:" not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert [line["data"].get("name") for line in lines] == ["王小明", None, ERASED]
    assert lines[1]["data"]["reason"] == "群众基础好"
    assert [line["fourgatesmetadata"]["reason"] for line in lines] == ["HR sync", "推荐：基层经验丰富", ERASED]

    code, output = run("export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(output)))
    assert "__enc__" not in output and "enc:" not in output
    assert [json.loads(r["data"]).get("name") for r in rows] == ["王小明", None, ERASED]
    assert [r["reason"] for r in rows] == ["HR sync", "推荐：基层经验丰富", ERASED]


def test_verify_checks_the_stored_ciphertext_and_needs_no_master_key(sealed_log: Path) -> None:
    without_key = {"FOURGATES_ENV": "production", "FOURGATES_MASTER_KEY": None}
    assert run("export", "--format", "jsonl")[0] == 0
    assert run("verify", "--heads", str(sealed_log), env=without_key)[0] == 0

    with psycopg.connect(AUDIT_DB, autocommit=True) as conn:
        conn.execute("UPDATE selection.events SET data = jsonb_set(data, '{name,ct}', '\"Zm9yZ2Vk\"')"
                     " WHERE stream = 'cadre-c1'")
    code, output = run("verify", "--heads", str(sealed_log))
    assert code == 1 and "CHANGED at audit no 1" in output


def test_revealing_without_the_master_key_says_what_to_set(sealed_log: Path) -> None:
    code, output = run("history", "--cadre", "c1", env={"FOURGATES_ENV": "production", "FOURGATES_MASTER_KEY": None})

    assert code == 1
    assert "FOURGATES_MASTER_KEY" in output and "Traceback" not in output


def test_an_unreachable_database_is_one_line_not_a_traceback() -> None:
    result = CliRunner().invoke(main, ["--db", "host=127.0.0.1 port=1 user=postgres connect_timeout=2", "verify"])

    assert result.exit_code == 1
    assert "check --db or FOURGATES_DB" in result.output and isinstance(result.exception, SystemExit)


def test_the_command_line_prints_no_eventlet_deprecation_warning(log: tuple) -> None:
    done = subprocess.run([sys.executable, "-m", "services.auditor", "--db", AUDIT_DB, "history", "--cadre", "c1"],
                          capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_history_written_to_a_pipe_is_not_cut_to_80_columns(log: tuple) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run([sys.executable, "-m", "services.auditor", "--db", AUDIT_DB, "history", "--cadre", "c1"],
                          capture_output=True, text=True, timeout=60, env=env, cwd=Path(__file__).resolve().parents[2])

    assert done.returncode == 0, done.stderr
    assert "NominationRecommended" in done.stdout and "alice (organisation_department)" in done.stdout
    assert "…" not in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) > 80


@pytest.mark.parametrize("removal", ["DROP SCHEMA selection CASCADE", "DROP TABLE selection.events CASCADE"])
@pytest.mark.parametrize("only", [[], ["--service", "selection"]])
def test_verify_names_a_service_whose_whole_log_is_gone_though_it_exported_heads(
        log: tuple, removal: str, only: list[str]) -> None:
    _, _, heads = log
    with psycopg.connect(AUDIT_DB, autocommit=True) as conn:
        conn.execute(removal)

    code, output = run("verify", "--heads", str(heads), *only)

    assert code == 1, output
    assert "selection" in output and "REMOVED at audit no 1" in output


def test_verify_does_not_ask_for_the_log_of_a_service_that_never_exported_a_head(log: tuple) -> None:
    _, _, heads = log

    code, output = run("verify", "--heads", str(heads))

    assert code == 0, output
    assert "posting" not in output


def test_verify_names_a_log_whose_seals_were_dropped_in_one_line(log: tuple) -> None:
    _, _, heads = log
    with psycopg.connect(AUDIT_DB, autocommit=True) as conn:
        conn.execute("DROP TABLE selection.audit_chain")

    code, output = run("verify", "--heads", str(heads))

    assert code == 1, output
    assert "REMOVED at audit no 1" in output and "audit_chain is gone" in output and "Traceback" not in output
