"""An operator replays a parked event once its cause is fixed, or dismisses a message that can never apply:
against a real PostgreSQL, with a handler that appends to the consumer's own log (which must be the first
write of its transaction, replay or not).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from services.backbone.consumer import IdempotentConsumer, ParkedStillFailsError
from services.backbone.domain import NotFoundError, StepOrderError
from services.backbone.envelope import FEED_START, FeedCursor, RecordedEvent, to_cloudevent
from services.backbone.store import EventStore
from tests.conftest import migrated_schema, new_event


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    with ConnectionPool(db_url, min_size=1, max_size=4) as pool:
        yield pool


class Mirror:
    """Consumes a ledger and appends one `mirror.Noted` per event to its own log; fails `ledger.Poison` while
    `broken` (the bug an operator fixes before replaying)."""

    def __init__(self, pool: ConnectionPool, own: str, ledger: EventStore) -> None:
        self.broken, self.attempts = True, 0
        self.store = EventStore(pool, own)

        def fetch(_: str, after: FeedCursor, limit: int) -> list[dict[str, Any]]:
            return [to_cloudevent(e, None) for e in ledger.read_feed(after, limit)]

        self.consumer = IdempotentConsumer(pool, own, "mirror", {"ledger": self.apply}, fetch, store=self.store)

    def apply(self, conn: psycopg.Connection, event: RecordedEvent, store: EventStore) -> None:
        if event.type == "ledger.Poison" and self.broken:
            self.attempts += 1
            raise ValueError(f"poison not understood yet (attempt {self.attempts})")
        store.append(f"mirror-{event.data['n']}", [new_event("mirror.Noted", {"n": event.data["n"]})], conn=conn)

    def mirrored(self) -> list[int]:
        return sorted(int(e.stream.split("-")[1]) for e in self.store.read_feed(FEED_START, 1000))


def test_a_parked_event_replayed_after_the_fix_applies_once_and_a_malformed_message_is_dismissed(
        db_url: str, pool: ConnectionPool, schema: str) -> None:
    ledger = EventStore(pool, schema)
    for n in range(5):
        ledger.append(f"l-{n}", [new_event("ledger.Poison" if n == 2 else "ledger.Happened", {"n": n})])
    events, previous, bodies = ledger.read_feed(FEED_START, 100), None, []
    for event in events:
        bodies.append(to_cloudevent(event, previous))
        previous = event.cursor
    with migrated_schema(db_url) as own:
        mirror = Mirror(pool, own, ledger)
        outcomes = [mirror.consumer.receive("ledger", body) for body in bodies]
        assert outcomes == ["applied", "applied", "parked", "applied", "applied"]
        assert mirror.mirrored() == [0, 1, 3, 4]

        open_, total = mirror.consumer.parked()
        assert total == 1 and open_[0]["type"] == "ledger.Poison" and "attempt 1" in open_[0]["error"]
        parked_id = open_[0]["id"]

        with pytest.raises(ParkedStillFailsError, match="attempt 2"):  # not fixed yet: stays parked, newest error
            mirror.consumer.replay_parked(parked_id, "ops.he", "first try")
        open_, _ = mirror.consumer.parked()
        assert [p["id"] for p in open_] == [parked_id] and "attempt 2" in open_[0]["error"]
        assert mirror.mirrored() == [0, 1, 3, 4]

        mirror.broken = False
        result = mirror.consumer.replay_parked(parked_id, "ops.he", "handler fixed in 1.4.2")
        assert result["resolution"] == "replayed" and result["type"] == "ledger.Poison"
        assert mirror.mirrored() == [0, 1, 2, 3, 4]
        with pytest.raises(StepOrderError, match="replayed already"):
            mirror.consumer.replay_parked(parked_id, "ops.he")
        assert mirror.mirrored() == [0, 1, 2, 3, 4]  # once
        assert mirror.consumer.receive("ledger", bodies[2]) == "duplicate"  # the broker's redelivery changes nothing

        assert mirror.consumer.receive("ledger", {"hello": "no event"}) == "parked"
        malformed = mirror.consumer.parked()[0][0]["id"]
        with pytest.raises(StepOrderError, match="dismiss it instead"):
            mirror.consumer.replay_parked(malformed, "ops.he")
        assert mirror.consumer.dismiss_parked(malformed, "ops.he", "a test message")["resolution"] == "dismissed"
        with pytest.raises(StepOrderError, match="dismissed already"):
            mirror.consumer.dismiss_parked(malformed, "ops.he", "again")
        with pytest.raises(NotFoundError):
            mirror.consumer.replay_parked(malformed + 1000, "ops.he")

        assert mirror.consumer.parked() == ([], 0)
        every, total = mirror.consumer.parked(include_resolved=True)
        assert total == 2
        assert [(p["resolution"], p["resolved_by"], p["resolution_note"]) for p in every] == [
            ("replayed", "ops.he", "handler fixed in 1.4.2"), ("dismissed", "ops.he", "a test message")]
        assert all(p["resolved_at"] is not None for p in every)


def test_a_message_parked_before_its_handler_is_never_applied_twice_by_a_replay(
        db_url: str, pool: ConnectionPool, schema: str) -> None:
    """An event too large for the broker path is parked unread; the feed brings it anyway. Replaying the parked
    copy afterwards is refused, and a replay that comes first keeps the feed from applying it a second time."""
    ledger, bodies, previous = EventStore(pool, schema), [], None

    def append(numbers: range) -> None:
        nonlocal previous
        for n in numbers:
            # Beyond MAX_MESSAGE_BYTES: 1.1 million ASCII characters, or 400,000 Chinese ones (1.2 MB in UTF-8).
            data = {"n": n, "blob": "x" * 1_100_000} if n == 1 else {"n": n, "blob": "档" * 400_000} if n == 4 else {"n": n}
            event = ledger.append(f"l-{n}", [new_event("ledger.Happened", data)])[0]
            bodies.append(to_cloudevent(event, previous))
            previous = event.cursor

    with migrated_schema(db_url) as own:
        mirror = Mirror(pool, own, ledger)
        append(range(3))  # 1 is parked unread; 2 shows the gap, and the feed brings 1 and 2
        assert [mirror.consumer.receive("ledger", body) for body in bodies] == ["applied", "parked", "caught_up"]
        assert mirror.mirrored() == [0, 1, 2]
        first = mirror.consumer.parked()[0][0]
        assert first["event_id"] == bodies[1]["id"] and "oversized" in first["error"]
        with pytest.raises(StepOrderError, match="was applied already .*: dismiss this one") as refused:
            mirror.consumer.replay_parked(first["id"], "ops.he")
        assert refused.value.rule == "parked.applied_already"
        assert mirror.mirrored() == [0, 1, 2]

        append(range(3, 6))  # 4 is parked unread while the source cannot be read; the operator replays it first
        assert [mirror.consumer.receive("ledger", body) for body in bodies[3:5]] == ["applied", "parked"]
        fetch = mirror.consumer.fetch_feed
        mirror.consumer.fetch_feed = lambda *_: (_ for _ in ()).throw(ConnectionError("ledger is away"))
        with pytest.raises(ConnectionError):
            mirror.consumer.receive("ledger", bodies[5])
        second = mirror.consumer.parked()[0][1]
        assert mirror.consumer.replay_parked(second["id"], "ops.he", "the broker refused it")["resolution"] == "replayed"
        assert mirror.mirrored() == [0, 1, 2, 3, 4]
        mirror.consumer.fetch_feed = fetch
        mirror.consumer.catch_up("ledger")  # brings 4 (seen: skipped) and 5
        assert mirror.mirrored() == [0, 1, 2, 3, 4, 5]


def test_a_message_of_another_source_cannot_be_replayed(db_url: str, pool: ConnectionPool, schema: str) -> None:
    ledger = EventStore(pool, schema)
    ledger.append("l-0", [new_event("ledger.Happened", {"n": 0})])
    foreign = {**to_cloudevent(ledger.read_feed(FEED_START, 1)[0], None), "type": "payroll.SalaryPaid"}
    with migrated_schema(db_url) as own:
        mirror = Mirror(pool, own, ledger)
        assert mirror.consumer.receive("ledger", foreign) == "parked"
        parked = mirror.consumer.parked()[0][0]
        with pytest.raises(StepOrderError, match="not an event of ledger: dismiss"):
            mirror.consumer.replay_parked(parked["id"], "ops.he")
        assert mirror.mirrored() == []


def test_a_forged_sequence_far_ahead_does_not_make_the_consumer_drop_the_real_events(
        db_url: str, pool: ConnectionPool, schema: str) -> None:
    """A message the source never sent, claiming a place far ahead in its feed, moves the cursor; the next real
    event then arrives behind the cursor yet missing from the inbox: the consumer rewinds and reads the feed,
    and every real event is applied, once."""
    from services.backbone.metrics import REWINDS

    ledger, bodies, previous = EventStore(pool, schema), [], None
    for n in range(4):
        event = ledger.append(f"l-{n}", [new_event("ledger.Happened", {"n": n})])[0]
        bodies.append(to_cloudevent(event, previous))
        previous = event.cursor
    forged = {**bodies[0], "id": "8d3c6f0e-0000-4000-8000-00000000f0f0", "data": {"n": 99},
              "sequence": f"{previous.era}.{previous.tx_id + 10_000}.{previous.position + 10_000}",
              "previoussequence": bodies[0]["sequence"]}
    with migrated_schema(db_url) as own:
        mirror = Mirror(pool, own, ledger)
        before = REWINDS.labels("mirror", "ledger")._value.get()
        assert mirror.consumer.receive("ledger", bodies[0]) == "applied"
        assert mirror.consumer.receive("ledger", forged) == "applied"  # nothing here can tell it from a real one
        assert mirror.consumer.receive("ledger", bodies[1]) == "caught_up"
        assert mirror.mirrored() == [0, 1, 2, 3, 99]
        assert REWINDS.labels("mirror", "ledger")._value.get() == before + 1
        assert [mirror.consumer.receive("ledger", body) for body in bodies] == ["duplicate"] * 4
        assert mirror.mirrored() == [0, 1, 2, 3, 99]


def test_behind_a_rebuilds_cursor_an_event_missing_from_the_inbox_counts_as_applied(
        db_url: str, pool: ConnectionPool, schema: str) -> None:
    ledger, bodies, previous = EventStore(pool, schema), [], None
    for n in range(3):
        event = ledger.append(f"l-{n}", [new_event("ledger.Happened", {"n": n})])[0]
        bodies.append(to_cloudevent(event, previous))
        previous = event.cursor
    with migrated_schema(db_url) as own, psycopg.connect(db_url, autocommit=True) as conn:
        # As a rebuild leaves it: the read models hold events 0 and 1, the inbox nothing.
        cursor = ledger.read_feed(FEED_START, 2)[-1].cursor
        conn.execute(f'INSERT INTO "{own}".consumer_cursor (consumer, source, era, tx_id, position, inbox_era,'
                     " inbox_tx_id, inbox_position) VALUES ('mirror', 'ledger', %s, %s, %s, %s, %s, %s)",
                     (*cursor, *cursor))
        mirror = Mirror(pool, own, ledger)
        assert [mirror.consumer.receive("ledger", body) for body in bodies] == ["duplicate", "duplicate", "applied"]
        assert mirror.mirrored() == [2]


def test_a_parked_copy_of_an_event_a_rebuild_loaded_is_not_replayed_and_copies_are_parked_once(
        db_url: str, pool: ConnectionPool, schema: str) -> None:
    """A rebuild loads the read models without the inbox and leaves its cursor as the line before which every
    event counts as applied: a parked, unread copy of such an event is refused on replay like one in the inbox.
    And a message parked unread that arrives again (a redelivery) is kept once, not once per copy."""
    ledger, bodies, previous = EventStore(pool, schema), [], None
    for n in range(3):
        data = {"n": n, "blob": "x" * 1_100_000} if n == 1 else {"n": n}
        event = ledger.append(f"l-{n}", [new_event("ledger.Happened", data)])[0]
        bodies.append(to_cloudevent(event, previous))
        previous = event.cursor
    with migrated_schema(db_url) as own, psycopg.connect(db_url, autocommit=True) as conn:
        # As a rebuild leaves it: the read models hold events 0 and 1, the inbox nothing.
        cursor = ledger.read_feed(FEED_START, 2)[-1].cursor
        conn.execute(f'INSERT INTO "{own}".consumer_cursor (consumer, source, era, tx_id, position, inbox_era,'
                     " inbox_tx_id, inbox_position) VALUES ('mirror', 'ledger', %s, %s, %s, %s, %s, %s)",
                     (*cursor, *cursor))
        mirror = Mirror(pool, own, ledger)
        assert [mirror.consumer.receive("ledger", body) for body in (bodies[1], bodies[1])] == ["parked", "parked"]
        parked, total = mirror.consumer.parked()
        assert total == 1 and "oversized" in parked[0]["error"]
        with pytest.raises(StepOrderError, match="was applied already") as refused:
            mirror.consumer.replay_parked(parked[0]["id"], "ops.he")
        assert refused.value.rule == "parked.applied_already"
        assert mirror.mirrored() == []
        assert mirror.consumer.receive("ledger", bodies[2]) == "applied"
        assert mirror.mirrored() == [2]
