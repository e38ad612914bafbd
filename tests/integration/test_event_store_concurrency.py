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
