"""Concurrent writers and a following reader against the real PostgreSQL store."""
from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from services.backbone.envelope import FEED_START
from services.backbone.errors import ConcurrencyConflictError
from services.backbone.store import EventStore
from tests.conftest import new_event

WRITERS, APPENDS_PER_WRITER, STREAMS = 16, 40, 12


@pytest.fixture
def store(db_url: str, schema: str) -> Iterator[EventStore]:
    with ConnectionPool(db_url, min_size=WRITERS + 2, max_size=WRITERS + 2) as pool:
        yield EventStore(pool, schema)


def test_a_reader_following_16_writers_sees_every_event_once_and_each_stream_in_order(store: EventStore) -> None:
    done = threading.Event()
    seen: list = []

    def write(writer: int) -> None:
        rng = random.Random(writer)
        for i in range(APPENDS_PER_WRITER):
            batch = [new_event(data={"writer": writer, "i": i, "k": k}) for k in range(rng.randint(1, 3))]
            store.append(f"stream-{rng.randrange(STREAMS)}", batch)

    def follow() -> None:
        cursor = FEED_START
        while True:
            finished = done.is_set()  # read the flag before the page, so the last page is complete
            page = store.read_feed(cursor, limit=50)
            seen.extend(page)
            cursor = page[-1].cursor if page else cursor
            if finished and not page:
                return

    reader = threading.Thread(target=follow)
    reader.start()
    writers = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reader.join(timeout=60)

    committed = store.read_feed(FEED_START, limit=100_000)
    assert len(committed) >= WRITERS * APPENDS_PER_WRITER
    assert sorted(e.event_id for e in seen) == sorted(e.event_id for e in committed)
    versions: dict[str, list[int]] = defaultdict(list)
    for event in seen:
        versions[event.stream].append(event.version)
    for stream, order in versions.items():
        assert order == list(range(1, len(order) + 1)), f"{stream} arrived out of order"


def test_two_writers_racing_for_one_expected_version_exactly_one_wins(store: EventStore) -> None:
    store.append("nomination-1", [new_event()])
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve() -> None:
        barrier.wait()
        try:
            store.append("nomination-1", [new_event("test.Approved")], expected_version=1)
            outcomes.append("won")
        except ConcurrencyConflictError:
            outcomes.append("conflict")

    racers = [threading.Thread(target=approve) for _ in range(2)]
    for thread in racers:
        thread.start()
    for thread in racers:
        thread.join()

    assert sorted(outcomes) == ["conflict", "won"]
    assert [e.type for e in store.read_stream("nomination-1")] == ["test.Happened", "test.Approved"]


def test_an_append_after_another_write_in_its_transaction_is_refused(store: EventStore, schema: str) -> None:
    from services.backbone.errors import AppendNotFirstWriteError

    with pytest.raises(AppendNotFirstWriteError):
        with store.transaction() as conn:
            conn.execute(f'INSERT INTO "{schema}".parked_messages (consumer, body, error) VALUES (%s, %s, %s)', ("x", "{}", "e"))
            store.append("a", [new_event()], conn=conn)

    assert store.read_feed() == []


def test_a_transaction_writing_elsewhere_does_not_hold_the_feed_back(store: EventStore, db_url: str) -> None:
    """The feed's horizon is this log's own: a consumer's, a rebuild's or another service's open
    transaction in the same cluster no longer delays the events of this log (migration 005)."""
    import psycopg

    with psycopg.connect(db_url) as elsewhere:
        elsewhere.execute("SELECT pg_current_xact_id()")  # a writing transaction, still open, older than the append
        store.append("a", [new_event()])
        assert [e.stream for e in store.read_feed()] == ["a"]
        elsewhere.rollback()


def test_an_appender_still_running_holds_back_the_appends_committed_after_it(store: EventStore) -> None:
    with store.pool.connection() as first, first.transaction():
        store.append("slow", [new_event()], conn=first)  # its transaction id is fixed; not committed yet
        store.append("fast", [new_event()])  # a younger transaction, committed
        assert store.read_feed() == [], "a row shown now would let 'slow' commit behind the reader's cursor"
    assert [e.stream for e in store.read_feed()] == ["slow", "fast"]


def test_a_reader_inside_one_transaction_sees_appenders_that_began_after_its_first_read(store: EventStore) -> None:
    """PostgreSQL caches pg_stat_activity for the rest of a transaction; the horizon must not use a stale copy."""
    with store.pool.connection() as reader, reader.transaction():
        assert store.read_feed(conn=reader) == []  # reads the backends' state once
        with store.pool.connection() as slow, slow.transaction():
            store.append("slow", [new_event()], conn=slow)  # began after the reader's first read
            store.append("fast", [new_event()])
            assert store.read_feed(conn=reader) == []
        assert [e.stream for e in store.read_feed(conn=reader)] == ["slow", "fast"]
