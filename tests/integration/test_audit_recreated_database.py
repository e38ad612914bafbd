"""A database dropped and created again under the same name is another database: its chain is verified against
its own exported heads, the earlier database's are reported, and truncating its newest events still shows."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import ConnectionPool

from services.backbone.audit import Sequencer, VerifyResult, database_identity, heads_path, read_heads, verify_chain
from services.backbone.migrations import migrate
from services.backbone.store import EventStore
from tests.conftest import TEST_DB, new_event

NAME = f"{psycopg.conninfo.conninfo_to_dict(TEST_DB)['dbname']}_recreated"
DB = psycopg.conninfo.make_conninfo(TEST_DB, dbname=NAME)
ADMIN = psycopg.conninfo.make_conninfo(TEST_DB, dbname="postgres")


def create_database(template: str | None = None, name: str = NAME) -> None:
    """DROP DATABASE and CREATE DATABASE of that name, as an operator does (from `template`: a copy)."""
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        conn.execute(create + sql.SQL(" TEMPLATE {}").format(sql.Identifier(template)) if template else create)


def record(heads: Path, events: int) -> tuple[EventStore, ConnectionPool]:
    """Append and seal `events` events in the schema `chain` of the database now under NAME; export its head."""
    migrate(DB, "chain", service="none")
    pool = ConnectionPool(DB, min_size=1, max_size=2)
    store = EventStore(pool, "chain")
    for i in range(events):
        store.append(f"cadre-{i}", [new_event(data={"i": i})])
    seal_and_export(store, heads, events)
    return store, pool


def seal_and_export(store: EventStore, heads: Path, events: int) -> None:
    """Seal until `events` are sealed (the xid horizon may hold the newest back for a moment), then export the head."""
    sequencer = Sequencer(store, DB, "chain", head_dir=heads)
    deadline, sealed = time.monotonic() + 10, 0
    while sealed < events and time.monotonic() < deadline:
        sealed += sequencer.seal_batch()
    assert sealed == events
    sequencer.export_head()


def verify(store: EventStore, heads: Path) -> VerifyResult:
    return verify_chain(store, read_heads(heads_path(heads, DB, "chain")))


@pytest.fixture(scope="module", autouse=True)
def dropped_afterwards() -> Iterator[None]:
    yield
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(NAME)))


@pytest.fixture
def recreated(tmp_path: Path) -> Iterator[tuple[EventStore, Path]]:
    """A database that sealed and exported 5 events, dropped and created again under the same name with 3 others."""
    create_database()
    _, earlier = record(tmp_path, 5)
    earlier.close()
    create_database()
    store, pool = record(tmp_path, 3)
    yield store, tmp_path
    pool.close()


def test_a_recreated_database_is_verified_against_its_own_heads_and_the_earlier_database_is_reported(
        recreated: tuple[EventStore, Path]) -> None:
    store, heads = recreated

    result = verify(store, heads)

    assert result.ok and result.checked == 3
    [earlier] = result.earlier
    assert earlier.identity != result.database and earlier.heads == 1
    assert earlier.departure == f"it had reached audit no 5 (exported at {earlier.last_exported_at}); this chain ends at 3"
    assert earlier.recreated_before is not None and earlier.recreated_before > earlier.last_exported_at
    assert {p.parent.name for p in heads.glob(f"{NAME}/*/chain.heads.jsonl")} == {earlier.identity, result.database}


def test_truncating_the_newest_events_of_the_recreated_database_still_shows(
        recreated: tuple[EventStore, Path]) -> None:
    store, heads = recreated
    with store.transaction() as conn:
        conn.execute("DELETE FROM chain.audit_chain WHERE audit_no = 3")
        conn.execute("DELETE FROM chain.events WHERE event_id NOT IN (SELECT event_id FROM chain.audit_chain)")

    result = verify(store, heads)

    assert (result.ok, result.kind, result.audit_no) == (False, "truncated", 3)
    own = [h for h in read_heads(heads_path(heads, DB, "chain")) if h.database == result.database]
    assert f"the head exported at {own[-1].exported_at} was audit no 3" in result.detail


def test_altering_an_event_of_the_recreated_database_still_shows(recreated: tuple[EventStore, Path]) -> None:
    store, heads = recreated
    with store.transaction() as conn:
        conn.execute("UPDATE chain.events SET data = '{\"i\": 99}' WHERE stream = 'cadre-1'")

    result = verify(store, heads)

    assert (result.ok, result.kind, result.audit_no) == (False, "changed", 2)


def test_a_copy_of_the_database_under_the_same_name_continues_the_earlier_chain(tmp_path: Path) -> None:
    create_database()
    store, pool = record(tmp_path, 4)
    pool.close()
    create_database(template=NAME, name=f"{NAME}_copy")
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(NAME)))  # its copy takes the name, as a restore does
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(f"{NAME}_copy"), sql.Identifier(NAME)))

    with ConnectionPool(DB, min_size=1, max_size=2) as pool:
        result = verify(EventStore(pool, "chain"), tmp_path)

    assert result.ok and result.checked == 4
    [earlier] = result.earlier
    assert earlier.identity != result.database and earlier.departure is None


def write_unidentified_head(heads: Path, audit_no: int, exported_at: str) -> None:
    """A head as exported before identities were recorded: no `database`, in the file beside the identity folders."""
    line = {"service": "chain", "audit_no": audit_no, "hash": "0" * 64, "exported_at": exported_at}
    heads_path(heads, DB, "chain").write_text(json.dumps(line) + "\n")


def test_a_head_without_identity_exported_after_the_chain_began_is_still_held_to_it(tmp_path: Path) -> None:
    create_database()
    store, pool = record(tmp_path, 2)
    with store.transaction() as conn:
        identity = database_identity(conn)
    [head] = read_heads(heads_path(tmp_path, DB, "chain"))
    write_unidentified_head(tmp_path, 4, head.exported_at)
    try:
        result = verify(store, tmp_path)
    finally:
        pool.close()

    assert (result.ok, result.kind, result.audit_no, result.database) == (False, "truncated", 3, identity)
    assert "exported before database identities were recorded" in result.detail and not result.earlier


def test_a_head_without_identity_exported_before_the_chain_began_is_an_earlier_databases(tmp_path: Path) -> None:
    create_database()
    store, pool = record(tmp_path, 2)
    write_unidentified_head(tmp_path, 4, "2020-01-01T00:00:00+00:00")
    try:
        result = verify(store, tmp_path)
    finally:
        pool.close()

    assert result.ok
    [earlier] = result.earlier
    assert (earlier.identity, earlier.heads, earlier.last_exported_at) == (None, 1, "2020-01-01T00:00:00+00:00")
    assert earlier.departure is not None and "it had reached audit no 4" in earlier.departure
