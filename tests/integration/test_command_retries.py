"""A command runs once whatever its retries: the retry answers the first run's events, all of them, in order.

`Aggregates.previous_result` probes only the first event id of a command (its events are appended together
with ids 0, 1, ...) and reads the others only when that one is stored: these tests hold the answers it gives.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from psycopg_pool import ConnectionPool

from services.backbone.commands import Aggregates, CommandMeta
from services.backbone.domain import Actor, Context, Decision, Event
from services.backbone.errors import IdempotencyMismatchError
from services.backbone.memory import InMemoryEventStore
from services.backbone.registry import EventRegistry
from services.backbone.store import EventStore


@dataclass(frozen=True)
class Counted(Event):
    TYPE: ClassVar[str] = "test.Counted"
    n: int


REGISTRY = EventRegistry([Counted])


@pytest.fixture(params=["postgres", "memory"])
def agg(request: pytest.FixtureRequest) -> Iterator[Aggregates]:
    if request.param == "memory":
        yield Aggregates(InMemoryEventStore(), REGISTRY)
        return
    db_url, schema = request.getfixturevalue("db_url"), request.getfixturevalue("schema")
    with ConnectionPool(db_url, min_size=1, max_size=4) as pool:
        yield Aggregates(EventStore(pool, schema), REGISTRY)


def meta(key: str, principal: str = "alice", request_hash: str = "h1") -> CommandMeta:
    actor = Actor(principal, "organisation_department", "county-od")
    return CommandMeta(Context(actor, datetime.now(UTC), "retry test"), key, key, "test", request_hash=request_hash)


def count_to(k: int) -> Any:
    """A decision of k events, whatever the state (the state is the number of events so far)."""
    return lambda state: Decision([Counted(state + i + 1) for i in range(k)])


def fold(events: list[Event]) -> int:
    return len(events)


def test_a_retried_command_of_many_events_answers_all_of_them_and_appends_none(agg: Aggregates) -> None:
    first = agg.execute("tally-1", fold, count_to(5), meta("k-many"))
    retry = agg.execute("tally-1", fold, count_to(5), meta("k-many"))

    assert not first.replayed and retry.replayed
    assert [e.event_id for e in retry.events] == [e.event_id for e in first.events]
    assert [e.data["n"] for e in retry.events] == [1, 2, 3, 4, 5]
    assert (retry.stream, retry.version) == ("tally-1", 5)
    assert len(agg.store.read_stream("tally-1")) == 5


def test_a_new_key_runs_again_and_a_key_of_another_principal_or_request_is_refused(agg: Aggregates) -> None:
    agg.execute("tally-2", fold, count_to(2), meta("k-a"))
    again = agg.execute("tally-2", fold, count_to(1), meta("k-b"))
    assert not again.replayed and again.version == 3

    with pytest.raises(IdempotencyMismatchError):
        agg.execute("tally-2", fold, count_to(2), meta("k-a", principal="mallory"))
    with pytest.raises(IdempotencyMismatchError):
        agg.execute("tally-2", fold, count_to(2), meta("k-a", request_hash="h2"))
    assert len(agg.store.read_stream("tally-2")) == 3


def test_a_command_that_decided_nothing_is_decided_again_on_retry(agg: Aggregates) -> None:
    nothing = agg.execute("tally-3", fold, count_to(0), meta("k-none"))
    assert nothing.events == [] and not nothing.replayed
    later = agg.execute("tally-3", fold, count_to(1), meta("k-none"))
    assert not later.replayed and [e.data["n"] for e in later.events] == [1]
