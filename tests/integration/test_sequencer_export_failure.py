"""A chain head that cannot be written (heads folder not writable, disk full) must not stop sealing: the
sequencer keeps its leadership and seals on, logs and counts the failure, and exports again once it can."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from prometheus_client import REGISTRY
from psycopg_pool import ConnectionPool

from services.backbone.audit import Sequencer, heads_path, read_heads
from services.backbone.store import EventStore
from tests.conftest import new_event

FAILURES = "fourgates_chain_head_export_failures_total"


def failures() -> float:
    return REGISTRY.get_sample_value(FAILURES, {"service": "test"}) or 0.0


def lock_holder(db_url: str, schema: str) -> int | None:
    """The backend holding the sequencer's advisory lock of `schema`, if any holds it."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND ((classid::bigint << 32) | objid::bigint) = hashtext(%s)::bigint", (f"sequencer:{schema}",)).fetchone()
    return int(row[0]) if row else None


def sealed_count(db_url: str, schema: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return int(conn.execute(f'SELECT count(*) FROM "{schema}".audit_chain').fetchone()[0])  # type: ignore[index]


def wait_for(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def running(db_url: str, schema: str, tmp_path: Path) -> Iterator[tuple[EventStore, Sequencer, Path]]:
    """A sequencer exporting every 0.2 s into a folder under a regular file: no export can succeed (as root too)."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the heads folder's parent should be")
    with ConnectionPool(db_url, min_size=1, max_size=2) as pool:
        store = EventStore(pool, schema)
        sequencer = Sequencer(store, db_url, "test", head_dir=blocker / "chain-heads", poll_seconds=0.05,
                              export_every=0.2)
        thread = threading.Thread(target=sequencer.run, daemon=True)
        thread.start()
        try:
            yield store, sequencer, blocker
        finally:
            sequencer.stop.set()
            thread.join(timeout=10)


def test_sealing_goes_on_under_one_leader_while_the_head_cannot_be_exported(
        running: tuple[EventStore, Sequencer, Path], db_url: str, schema: str,
        caplog: pytest.LogCaptureFixture) -> None:
    store, sequencer, blocker = running
    caplog.set_level(logging.WARNING, logger="services.backbone.audit")
    before = failures()
    store.append("cadre-1", [new_event()])
    wait_for(lambda: sealed_count(db_url, schema) == 1 and failures() > before)
    leader = lock_holder(db_url, schema)
    assert leader is not None

    for i in range(20):  # two seconds: about ten failed exports
        store.append(f"cadre-{i}", [new_event()])
        time.sleep(0.1)
        assert lock_holder(db_url, schema) == leader, "the sequencer let go of its lock after a failed export"
    wait_for(lambda: sealed_count(db_url, schema) == 21, timeout=5)
    assert failures() >= before + 5
    logged = [r for r in caplog.records if getattr(r, "head_dir", None) == str(sequencer.head_dir)]
    assert logged and all(r.levelno == logging.WARNING and getattr(r, "service", None) == "test" for r in logged)

    blocker.unlink()  # the folder can be written again: the next round exports the head
    path = heads_path(blocker / "chain-heads", db_url, "test", sequencer.head().database)  # type: ignore[union-attr]
    wait_for(lambda: any(head.audit_no == 21 for head in read_heads(path.parent.parent / path.name)))
    assert lock_holder(db_url, schema) == leader
