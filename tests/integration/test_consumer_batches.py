"""The idempotent consumer applies deliveries that arrive together in one transaction (group commit),
without giving up exactly-once, feed order or parking — against a real PostgreSQL.

Deliveries are made from threads, as nameko makes them from green threads: each call returns only
once its event is committed (or parked), so a message is never acknowledged before that.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from services.backbone.consumer import IdempotentConsumer
from services.backbone.envelope import FEED_START, FeedCursor, RecordedEvent, to_cloudevent
from services.backbone.store import EventStore
from tests.conftest import new_event


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    with ConnectionPool(db_url, min_size=1, max_size=6) as pool:
        yield pool


@pytest.fixture
def source(pool: ConnectionPool, schema: str) -> EventStore:
    return EventStore(pool, schema)


def published(source: EventStore, count: int, poison: set[int] = frozenset()) -> list[dict[str, Any]]:
    """`count` events appended to the source, as its relay would publish them (with previoussequence)."""
    for n in range(count):
        source.append(f"s-{n % 3}", [new_event("ledger.Poison" if n in poison else "ledger.Happened", {"n": n})])
    deadline = time.monotonic() + 10
    while len(events := source.read_feed(FEED_START, 1000)) < count and time.monotonic() < deadline:
        time.sleep(0.05)  # transactions elsewhere in the cluster may hold the feed's horizon back for a moment
    bodies, previous = [], None
    for event in events:
        bodies.append(to_cloudevent(event, previous))
        previous = event.cursor
    return bodies


class Target:
    """A consumer whose batch handler records each event's number, and which batches it saw."""

    def __init__(self, pool: ConnectionPool, schema: str, source: EventStore, fail_whole_batch: bool = False) -> None:
        self.batches: list[int] = []
        self.schema, self.fail_whole_batch = schema, fail_whole_batch
        with pool.connection() as conn:
            conn.execute(f'CREATE TABLE "{schema}".applied (n int PRIMARY KEY)')

        def fetch(_: str, after: FeedCursor, limit: int) -> list[dict[str, Any]]:
            return [to_cloudevent(e, None) for e in source.read_feed(after, limit)]

        self.consumer = IdempotentConsumer(pool, schema, "target", {}, fetch, batch_handlers={"ledger": self.apply})

    def apply(self, conn: psycopg.Connection, events: Sequence[RecordedEvent],
              store: EventStore) -> list[tuple[RecordedEvent, Exception]]:
        self.batches.append(len(events))
        poison = [e for e in events if e.type == "ledger.Poison"]
        if poison and self.fail_whole_batch and len(events) > 1:
            conn.execute(f'INSERT INTO "{self.schema}".applied VALUES (-1), (-1)')  # a write that fails the batch
        good = [e.data["n"] for e in events if e.type != "ledger.Poison"]
        conn.execute(f'INSERT INTO "{self.schema}".applied SELECT unnest(%s::int[])', (good,))
        return [(e, ValueError(f"event {e.data['n']} cannot be applied")) for e in poison]

    def applied(self, db_url: str) -> list[int]:
        with psycopg.connect(db_url) as conn:
            return [n for (n,) in conn.execute(f'SELECT n FROM "{self.schema}".applied ORDER BY n')]

    def parked(self, db_url: str) -> list[str]:
        with psycopg.connect(db_url) as conn:
            return [e for (e,) in conn.execute(f'SELECT error FROM "{self.schema}".parked_messages')]


def deliver_together(consumer: IdempotentConsumer, bodies: list[dict[str, Any]]) -> list[str]:
    """Deliver every body from its own thread, in order, while the first batch holds the source's lock."""
    outcomes: list[str] = [""] * len(bodies)
    lock = consumer._source_lock("ledger")
    lock.acquire()  # like a batch in progress: everything delivered meanwhile queues up behind it

    def one(i: int) -> None:
        outcomes[i] = consumer.receive("ledger", bodies[i])

    threads = []
    for i in range(len(bodies)):
        threads.append(threading.Thread(target=one, args=(i,)))
        threads[-1].start()
        time.sleep(0.002)  # arrival order = delivery order, as the broker delivers one queue
    lock.release()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_deliveries_that_arrive_together_are_applied_once_in_few_transactions(
        db_url: str, pool: ConnectionPool, schema: str, source: EventStore) -> None:
    target = Target(pool, schema, source)
    bodies = published(source, 40)

    outcomes = deliver_together(target.consumer, bodies)
    again = deliver_together(target.consumer, bodies[:10])  # the broker redelivers some

    assert outcomes == ["applied"] * 40
    assert again == ["duplicate"] * 10
    assert target.applied(db_url) == list(range(40))
    assert len(target.batches) < 10, f"expected the 40 deliveries to share transactions, got batches {target.batches}"
    assert target.consumer.cursor("ledger") == FeedCursor.parse(bodies[-1]["sequence"])


def test_a_poison_event_in_a_batch_is_parked_and_the_rest_applied(
        db_url: str, pool: ConnectionPool, schema: str, source: EventStore) -> None:
    target = Target(pool, schema, source)
    bodies = published(source, 12, poison={5})

    outcomes = deliver_together(target.consumer, bodies)

    assert outcomes[5] == "parked" and outcomes.count("applied") == 11
    assert target.applied(db_url) == [n for n in range(12) if n != 5]
    assert ["event 5 cannot be applied" in error for error in target.parked(db_url)] == [True]


def test_a_batch_whose_transaction_fails_is_applied_again_one_event_at_a_time(
        db_url: str, pool: ConnectionPool, schema: str, source: EventStore) -> None:
    target = Target(pool, schema, source, fail_whole_batch=True)
    bodies = published(source, 12, poison={7})

    outcomes = deliver_together(target.consumer, bodies)

    assert outcomes[7] == "parked" and outcomes.count("applied") == 11
    assert target.applied(db_url) == [n for n in range(12) if n != 7]
    assert len(target.parked(db_url)) == 1


def test_a_lost_message_in_the_middle_of_a_batch_is_read_from_the_feed(
        db_url: str, pool: ConnectionPool, schema: str, source: EventStore) -> None:
    target = Target(pool, schema, source)
    bodies = published(source, 20)
    lost = bodies[:8] + bodies[9:]  # the broker lost the ninth

    outcomes = deliver_together(target.consumer, lost)

    assert outcomes[:8] == ["applied"] * 8
    assert set(outcomes[8:]) == {"caught_up"}
    assert target.applied(db_url) == list(range(20))
    assert target.consumer.stats.catch_ups == 1, "one catch-up for the whole batch, not one per message"


def test_handlers_that_append_to_their_own_log_get_a_transaction_each(
        db_url: str, pool: ConnectionPool, schema: str, source: EventStore) -> None:
    """An append must be its transaction's first write: a per-event handler is never batched with another."""
    def record(conn: psycopg.Connection, event: RecordedEvent, store: EventStore) -> None:
        store.append(f"copy-{event.data['n']}", [new_event("ledger.Copied", {"n": event.data["n"]})], conn=conn)

    own = EventStore(pool, schema)
    consumer = IdempotentConsumer(pool, schema, "copier", {"ledger": record},
                                  lambda _, after, limit: [to_cloudevent(e, None) for e in source.read_feed(after, limit)],
                                  store=own)
    bodies = published(source, 15)

    outcomes = deliver_together(consumer, bodies)

    assert outcomes == ["applied"] * 15
    with psycopg.connect(db_url) as conn:
        copied = conn.execute(f'SELECT count(*) FROM "{schema}".events WHERE type = %s', ("ledger.Copied",)).fetchone()
        parked = conn.execute(f'SELECT count(*) FROM "{schema}".parked_messages').fetchone()
    assert (copied, parked) == ((15,), (0,))


def test_events_a_per_event_handler_does_not_interpret_ride_in_the_next_ones_transaction(
        db_url: str, pool: ConnectionPool, schema: str, source: EventStore) -> None:
    """Selection reads every assessment event but acts on one type: the rest are only recorded, in the
    transaction of the next event it acts on (whose append stays that transaction's first write)."""
    handled: list[int] = []

    def record(conn: psycopg.Connection, event: RecordedEvent, store: EventStore) -> None:
        handled.append(event.data["n"])
        store.append(f"copy-{event.data['n']}", [new_event("ledger.Copied", {"n": event.data["n"]})], conn=conn)

    consumer = IdempotentConsumer(pool, schema, "copier", {"ledger": record},
                                  lambda _, after, limit: [to_cloudevent(e, None) for e in source.read_feed(after, limit)],
                                  store=EventStore(pool, schema), versions={"ledger": {"ledger.Poison": 1}})
    bodies = published(source, 15, poison={4, 9})  # the two events of the type it interprets

    outcomes = deliver_together(consumer, bodies)

    assert outcomes == ["applied"] * 15
    assert handled == [4, 9]
    with psycopg.connect(db_url) as conn:
        copied = conn.execute(f'SELECT count(*) FROM "{schema}".events WHERE type = %s', ("ledger.Copied",)).fetchone()
        parked = conn.execute(f'SELECT count(*) FROM "{schema}".parked_messages').fetchone()
        # rows written by one transaction share its xmin
        transactions = conn.execute(f'SELECT count(DISTINCT xmin::text) FROM "{schema}".consumer_inbox').fetchone()
    assert (copied, parked) == ((2,), (0,))
    assert transactions == (3,), "0-4, 5-9 and 10-14: one transaction per interpreted event, the rest riding along"
    assert consumer.cursor("ledger") == FeedCursor.parse(bodies[-1]["sequence"])


def test_live_deliveries_go_on_while_a_timed_catch_up_waits_for_a_slow_source(
        db_url: str, pool: ConnectionPool, schema: str, source: EventStore) -> None:
    target = Target(pool, schema, source)
    bodies = published(source, 10)
    answered, slow = threading.Event(), target.consumer.fetch_feed

    def slow_source(name: str, after: FeedCursor, limit: int) -> list[dict[str, Any]]:
        answered.wait(timeout=30)  # a busy source, answering only when told
        return slow(name, after, limit)

    target.consumer.fetch_feed = slow_source
    catching_up = threading.Thread(target=target.consumer.catch_up, args=("ledger",))
    catching_up.start()
    time.sleep(0.1)  # the catch-up is waiting for its first page
    began = time.monotonic()
    live = [target.consumer.receive("ledger", body) for body in bodies[:6]]
    took = time.monotonic() - began
    answered.set()
    catching_up.join(timeout=30)

    assert live == ["applied"] * 6
    assert took < 5, f"live deliveries waited {took:.1f} s for the catch-up's call to the source"
    # the catch-up's page began before them: it skips what they applied, and applies the rest once
    assert target.applied(db_url) == list(range(10))
    assert target.consumer.cursor("ledger") == FeedCursor.parse(bodies[-1]["sequence"])


def test_the_inbox_check_of_a_batch_is_planned_with_its_values_not_kept_as_a_generic_plan(db_url: str,
                                                                                        schema: str) -> None:
    """psycopg prepares a statement at its fifth run, and PostgreSQL keeps the generic plan it made while the inbox
    was small until the table is next ANALYZEd (never, without autovacuum): for the check of a batch's event ids
    (`= ANY(...)`) that plan can scan the consumer's whole inbox, slower as it grows (2.6 ms by the end of the e2e
    benchmark). A batch's check is planned with its ids at each run; a delivery alone is checked by equality, a
    prepared index lookup whatever the inbox's size."""
    with ConnectionPool(db_url, min_size=1, max_size=1) as one:
        source = EventStore(one, schema)
        target = Target(one, schema, source)
        bodies = published(source, 8)
        outcomes = [target.consumer.receive("ledger", body) for body in bodies]  # one at a time
        for round_ in range(7):  # batches of two, read from the feed
            for n in range(2):
                source.append(f"t-{round_}", [new_event("ledger.Happened", {"n": 100 + 2 * round_ + n})])
            assert target.consumer.catch_up("ledger") == 2
        with one.connection() as conn:
            kept = [s for (s,) in conn.execute("SELECT statement FROM pg_prepared_statements")]
    assert outcomes == ["applied"] * 8 and len(target.applied(db_url)) == 22
    assert [s for s in kept if "consumer_inbox" in s and "event_id = $2" in s], "a delivery alone: prepared"
    assert not [s for s in kept if "consumer_inbox" in s and "ANY" in s], kept


def test_a_second_copy_of_an_event_in_the_same_batch_is_a_duplicate_not_a_forgery(
        db_url: str, pool: ConnectionPool, schema: str, source: EventStore) -> None:
    """The relay publishes again what the broker did not confirm in time, and the broker redelivers what was
    not acknowledged: copies can arrive in the batch that applies the first one. They are duplicates -- no
    rewind, no alert, no catch-up through the source's feed."""
    from services.backbone.metrics import REWINDS

    target = Target(pool, schema, source)
    bodies = published(source, 6)
    rewinds = REWINDS.labels("target", "ledger")._value.get()

    outcomes = deliver_together(target.consumer, bodies + bodies[:3])

    assert outcomes == ["applied"] * 6 + ["duplicate"] * 3
    assert target.applied(db_url) == list(range(6))
    assert REWINDS.labels("target", "ledger")._value.get() == rewinds, "a redelivered copy is not a forged message"
    assert target.consumer.stats.catch_ups == 0
    assert target.consumer.cursor("ledger") == FeedCursor.parse(bodies[-1]["sequence"])
