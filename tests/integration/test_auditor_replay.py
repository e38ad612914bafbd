"""`auditor replay` against a real database: what was known at a moment, written only into a scratch schema."""
from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from services.backbone.commands import Aggregates, CommandMeta
from services.backbone.domain import Actor, Context
from services.backbone.migrations import migrate
from services.backbone.store import EventStore
from services.backbone.vault import Vault
from services.selection import domain as d
from services.selection.handlers import REGISTRY
from tests.conftest import new_event
from tests.integration.test_auditor_cli import AUDIT_DB, fresh_services, run

SCRATCH = ("replay_test", "scratch_foreign", "other_log", "bad name; drop")


@pytest.fixture
def between(logged_moment: str) -> str:
    """`logged_moment`, with none of the scratch schemas an earlier test's replay made."""
    drop_scratch()
    return logged_moment


def drop_scratch() -> None:
    with psycopg.connect(AUDIT_DB, autocommit=True) as conn:
        for schema in SCRATCH:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="module")
def logged_moment() -> Iterator[str]:
    """Selection's log: cadre "early" registered and then put in the reserve pool (two versions of one record),
    a moment (yielded, as the CLI takes it), then cadre "late" registered. Written once for the module: the
    replays only read it (one test checks exactly that)."""
    fresh_services()
    drop_scratch()
    migrate(AUDIT_DB, "selection", service="selection")
    with ConnectionPool(AUDIT_DB, min_size=1, max_size=2) as pool:
        agg = Aggregates(EventStore(pool, "selection", Vault(pool, "selection")), REGISTRY)
        register(agg, "early")
        od = Actor("od.zhang", "organisation_department", "county-od")
        meta = CommandMeta(Context(od, datetime.now(UTC), "民主推荐"), "pool-early", "pool-early", "selection")
        agg.execute("cadre-early", d.fold_cadre, lambda s: d.decide_add_to_reserve_pool(
            s, d.AddToReservePool("early", "民主推荐"), meta.context), meta)
        time.sleep(1.1)
        moment = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        time.sleep(1.1)
        register(agg, "late")
        time.sleep(0.5)
    yield moment


def register(agg: Aggregates, cadre_id: str) -> None:
    hr = Actor("hr.sync", "integration", "county-hr")
    cmd = d.RegisterCadre(cadre_id, f"王{cadre_id}", "deputy_section", "county-finance", date(1990, 1, 1), False, True)
    meta = CommandMeta(Context(hr, datetime.now(UTC), "HR sync"), f"reg-{cadre_id}", f"reg-{cadre_id}", "selection")
    agg.execute(f"cadre-{cadre_id}", d.fold_cadre, lambda s: d.decide_register_cadre(s, cmd, meta.context), meta)


def records(output: str) -> dict[str, int]:
    """The replay's report as {read model: records}, read from its two-column table."""
    rows = [[cell.strip() for cell in line.strip("│ ").split("│")] for line in output.splitlines() if line.count("│") == 3]
    return {name: int(count) for name, count in rows if count.isdigit()}


def tables(schema: str) -> set[str]:
    with psycopg.connect(AUDIT_DB) as conn:
        return {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                           (schema,))}


def test_replay_as_of_a_moment_shows_what_was_known_then(between: str, tmp_path: Path) -> None:
    code, output = run("replay", "--as-of", between, "--into", "replay_test", "--export", str(tmp_path / "out"))

    assert code == 0, output
    with psycopg.connect(AUDIT_DB) as conn:
        cadres = conn.execute("SELECT DISTINCT cadre_id, name FROM replay_test.cadres").fetchall()
    assert cadres == [("early", "王early")]
    assert (tmp_path / "out" / "cadres.csv").exists() and not (tmp_path / "out" / "schema_migrations.csv").exists()


def test_replay_exports_write_yes_and_no_as_every_other_csv_does(between: str, tmp_path: Path) -> None:
    code, output = run("replay", "--as-of", between, "--into", "replay_test", "--export", str(tmp_path / "out"))

    assert code == 0, output
    with open(tmp_path / "out" / "cadres.csv", encoding="utf-8-sig", newline="") as exported:
        rows = list(csv.DictReader(exported))
    assert {(r["fit_for_duty"], r["grassroots_experience"]) for r in rows} == {("true", "false")}
    assert sorted(r["reserve_cadre"] for r in rows) == ["false", "true"]  # its two versions


def test_replay_reports_the_records_of_each_read_model_as_of_the_moment(between: str) -> None:
    code, output = run("replay", "--as-of", between, "--into", "replay_test")

    assert code == 0, output
    counted = records(output)
    assert counted["cadres"] == 1  # one cadre, in two versions
    assert counted["timeline"] == 2 and counted["nominations"] == 0
    assert not {"schema_migrations", "events", "consumer_cursor", "person_keys"} & set(counted)


def test_replay_never_writes_into_a_service_schema(between: str) -> None:
    migrate(AUDIT_DB, "other_log", service="none")
    with ConnectionPool(AUDIT_DB, min_size=1, max_size=1) as pool:
        EventStore(pool, "other_log").append("x-1", [new_event()])
    before = tables("selection")

    for schema in ("selection", "posting", "other_log"):
        for replace in ((), ("--replace",)):
            code, output = run("replay", "--as-of", between, "--into", schema, *replace)
            assert code == 1 and "belongs to a service" in output and "Traceback" not in output, output

    assert tables("selection") == before and "cadres" not in tables("other_log")
    with psycopg.connect(AUDIT_DB) as conn:
        applied = [r[0] for r in conn.execute("SELECT name FROM selection.schema_migrations")]
    assert not [name for name in applied if name.startswith("reporting/")]


def test_replaying_into_the_same_schema_again_needs_replace(between: str) -> None:
    assert run("replay", "--as-of", between, "--into", "replay_test")[0] == 0

    code, output = run("replay", "--as-of", between, "--into", "replay_test")
    assert code == 1 and "--replace" in output and "Traceback" not in output, output

    code, output = run("replay", "--as-of", between, "--into", "replay_test", "--replace")
    assert code == 0, output
    assert records(output)["cadres"] == 1 and records(output)["timeline"] == 2


def test_the_default_schema_of_a_repeated_replay_is_refused_too(between: str) -> None:
    default = f"replay_{datetime.strptime(between, '%Y-%m-%d %H:%M:%S'):%Y%m%d_%H%M%S}"
    try:
        assert run("replay", "--as-of", between)[0] == 0
        code, output = run("replay", "--as-of", between)
        assert code == 1 and f"schema {default} holds an earlier replay" in output
    finally:
        with psycopg.connect(AUDIT_DB, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {default} CASCADE")


def test_replace_never_drops_a_schema_the_replay_did_not_create(between: str) -> None:
    with psycopg.connect(AUDIT_DB, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA scratch_foreign")
        conn.execute("CREATE TABLE scratch_foreign.notes (note text)")

    code, output = run("replay", "--as-of", between, "--into", "scratch_foreign", "--replace")

    assert code == 1 and "name another schema with --into" in output, output
    assert tables("scratch_foreign") == {"notes"}


def test_an_empty_schema_made_for_the_replay_is_used(between: str) -> None:
    with psycopg.connect(AUDIT_DB, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA scratch_foreign")

    code, output = run("replay", "--as-of", between, "--into", "scratch_foreign")

    assert code == 0, output
    assert records(output)["cadres"] == 1


def test_a_schema_name_that_is_not_plain_is_refused(between: str) -> None:
    code, output = run("replay", "--as-of", between, "--into", "bad name; drop")

    assert code == 1 and "not a plain schema name" in output and "Traceback" not in output
    with psycopg.connect(AUDIT_DB) as conn:
        assert not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname LIKE 'bad name%'").fetchone()


def test_replay_takes_the_moment_of_a_dashboard_link_and_names_a_moment_it_cannot_read(between: str) -> None:
    """The dashboard's as-of links give the moment in UTC with its fractions (…T09:53:49.126251Z): an auditor
    replays to exactly that moment; what is no moment is refused by a line that says what to give."""
    local = datetime.strptime(between, "%Y-%m-%d %H:%M:%S").astimezone()
    as_in_a_link = local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    code, output = run("replay", "--as-of", as_in_a_link, "--into", "replay_test")
    assert code == 0, output
    assert records(output)["cadres"] == 1

    code, output = run("replay", "--as-of", "last tuesday", "--into", "replay_test", "--replace")
    assert code == 2 and "'last tuesday' is not a moment" in output and "Traceback" not in output
