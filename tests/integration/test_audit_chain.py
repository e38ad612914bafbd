"""Tamper tests on a real database: every kind of alteration is named by `verify` at the right audit number."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from services.backbone.audit import Sequencer, heads_path, read_heads, verify_chain
from services.backbone.store import EventStore
from tests.conftest import new_event


@pytest.fixture
def sealed(db_url: str, schema: str, tmp_path: Path) -> Iterator[tuple[EventStore, Sequencer, list]]:
    with ConnectionPool(db_url, min_size=1, max_size=2) as pool:
        store = EventStore(pool, schema)
        events = [store.append(f"cadre-{i % 3}", [new_event(data={"name": f"cipher-{i}", "i": i})])[0] for i in range(10)]
        sequencer = Sequencer(store, db_url, "test", head_dir=tmp_path)
        seal_all(sequencer, 10)
        sequencer.export_head()
        yield store, sequencer, events


def seal_all(sequencer: Sequencer, expected: int) -> None:
    """Seal until `expected` events are sealed (the xid horizon may hold the newest back for a moment)."""
    deadline, sealed = time.monotonic() + 10, 0
    while sealed < expected and time.monotonic() < deadline:
        sealed += sequencer.seal_batch()
    assert sealed == expected


def tamper(db_url: str, sql: str, *params: object) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql, params)


def heads(sequencer: Sequencer) -> list:
    assert sequencer.head_dir is not None
    return read_heads(heads_path(sequencer.head_dir, sequencer.conninfo, "test"))


def test_an_untouched_log_verifies(sealed: tuple) -> None:
    store, sequencer, _ = sealed
    result = verify_chain(store, heads(sequencer))
    assert result.ok and result.checked == 10


def test_new_events_are_sealed_after_the_old_ones(sealed: tuple) -> None:
    store, sequencer, _ = sealed
    store.append("cadre-9", [new_event()])
    seal_all(sequencer, 1)
    assert verify_chain(store, heads(sequencer)).checked == 11


def test_changing_one_field_of_one_event_is_named(sealed: tuple, db_url: str, schema: str) -> None:
    store, sequencer, events = sealed
    tamper(db_url, f"UPDATE {schema}.events SET data = jsonb_set(data, '{{i}}', '99') WHERE event_id = %s", events[4].event_id)

    result = verify_chain(store, heads(sequencer))

    assert (result.ok, result.kind, result.audit_no) == (False, "changed", 5)


def test_deleting_one_event_is_named(sealed: tuple, db_url: str, schema: str) -> None:
    store, sequencer, events = sealed
    tamper(db_url, f"DELETE FROM {schema}.events WHERE event_id = %s", events[6].event_id)

    result = verify_chain(store, heads(sequencer))

    assert (result.kind, result.audit_no) == ("removed", 7)


def test_deleting_an_event_and_its_seal_is_named(sealed: tuple, db_url: str, schema: str) -> None:
    store, sequencer, events = sealed
    tamper(db_url, f"DELETE FROM {schema}.events WHERE event_id = %s", events[2].event_id)
    tamper(db_url, f"DELETE FROM {schema}.audit_chain WHERE event_id = %s", events[2].event_id)

    result = verify_chain(store, heads(sequencer))

    assert (result.kind, result.audit_no) == ("removed", 3)


def test_inserting_an_event_into_the_sealed_past_is_named(sealed: tuple, db_url: str, schema: str) -> None:
    store, sequencer, events = sealed
    forged = new_event(data={"i": -1})
    tamper(db_url, f"INSERT INTO {schema}.events (tx_id, stream, version, event_id, type, schema_version, data, metadata)"
                   " VALUES (%s::text::xid8, 'cadre-forged', 1, %s, 'test.Happened', 1, '{}', %s::jsonb)",
           events[3].cursor.tx_id, forged.event_id, '{"actor": {"principal": "x", "role": "auditor", "unit": null}}')

    result = verify_chain(store, heads(sequencer))

    assert result.kind == "inserted" and result.audit_no is not None and result.audit_no <= 5


def test_truncating_the_newest_events_with_their_seals_is_named_by_the_exported_head(
        sealed: tuple, db_url: str, schema: str) -> None:
    store, sequencer, events = sealed
    newest = [e.event_id for e in events[7:]]
    tamper(db_url, f"DELETE FROM {schema}.audit_chain WHERE event_id = ANY(%s)", newest)
    tamper(db_url, f"DELETE FROM {schema}.events WHERE event_id = ANY(%s)", newest)

    assert verify_chain(store).ok  # without the exported head the shortened chain looks whole
    result = verify_chain(store, heads(sequencer))
    assert (result.kind, result.audit_no) == ("truncated", 8)


def test_moving_a_sealed_event_to_another_place_in_the_log_is_named(sealed: tuple, db_url: str, schema: str) -> None:
    store, sequencer, events = sealed
    # the feed's order is (era, tx_id, position): a later transaction id moves event 4 after event 8
    tamper(db_url, f"UPDATE {schema}.events SET tx_id = %s::text::xid8 WHERE event_id = %s",
           str(events[8].cursor.tx_id), events[3].event_id)
    assert [e.event_id for e in store.read_feed(limit=20)].index(events[3].event_id) == 7

    result = verify_chain(store, heads(sequencer))

    assert (result.ok, result.kind, result.audit_no) == (False, "changed", 4)
    assert "moved" in result.detail
