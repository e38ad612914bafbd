"""The event-store contract, run against the PostgreSQL store and the in-memory one alike."""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from services.backbone.envelope import FEED_START, AlreadyStored
from services.backbone.errors import ConcurrencyConflictError, IdempotencyMismatchError
from services.backbone.memory import InMemoryEventStore
from services.backbone.store import NO_STREAM, EventStore
from tests.conftest import new_event


def feed_when_settled(store: Any, expected: int, after: Any = FEED_START, limit: int = 500) -> list:
    """The feed, once transactions elsewhere in the cluster that hold the xid horizon back have ended."""
    deadline = time.monotonic() + 10
    while len(page := store.read_feed(after, limit)) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return page


@pytest.fixture(params=["postgres", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemoryEventStore()
        return
    db_url, schema = request.getfixturevalue("db_url"), request.getfixturevalue("schema")
    with ConnectionPool(db_url, min_size=1, max_size=4) as pool:
        yield EventStore(pool, schema)


def test_appended_events_are_read_back_in_version_order_with_their_metadata(store: Any) -> None:
    first, second = new_event(data={"n": 1}, policy_version="eligibility-2026"), new_event(data={"n": 2})
    store.append("cadre-1", [first, second], expected_version=NO_STREAM)

    events = store.read_stream("cadre-1")

    assert [(e.version, e.data["n"]) for e in events] == [(1, 1), (2, 2)]
    assert events[0].metadata.actor.principal == "alice"
    assert events[0].metadata.reason == "because the test says so"
    assert events[0].metadata.policy_version == "eligibility-2026"
    assert events[0].event_id == first.event_id


def test_append_at_a_stale_version_is_refused_and_writes_nothing(store: Any) -> None:
    store.append("cadre-1", [new_event()], expected_version=NO_STREAM)

    with pytest.raises(ConcurrencyConflictError) as refused:
        store.append("cadre-1", [new_event(), new_event()], expected_version=NO_STREAM)

    assert "version 1, not the expected 0" in str(refused.value)
    assert len(store.read_stream("cadre-1")) == 1


def test_a_retried_append_returns_the_original_events_and_adds_none(store: Any) -> None:
    batch = [new_event(), new_event()]
    original = store.append("cadre-1", batch, expected_version=NO_STREAM)

    retried = store.append("cadre-1", batch, expected_version=NO_STREAM)

    assert [e.event_id for e in retried] == [e.event_id for e in original]
    assert isinstance(retried, AlreadyStored) and not isinstance(original, AlreadyStored)  # the caller can tell
    assert len(store.read_stream("cadre-1")) == 2


def test_a_retry_that_matches_only_part_of_the_original_is_refused(store: Any) -> None:
    batch = [new_event(), new_event()]
    store.append("cadre-1", batch)

    with pytest.raises(IdempotencyMismatchError):
        store.append("cadre-1", [batch[0], new_event()])

    assert len(store.read_stream("cadre-1")) == 2


def test_any_version_appends_at_the_end(store: Any) -> None:
    store.append("cadre-1", [new_event()])
    store.append("cadre-1", [new_event()])

    assert [e.version for e in store.read_stream("cadre-1")] == [1, 2]
    assert store.stream_version("cadre-1") == 2
    assert store.stream_version("cadre-2") == 0


def test_the_feed_holds_every_stream_in_commit_order_and_pages_by_cursor(store: Any) -> None:
    store.append("a", [new_event(data={"n": 1})])
    store.append("b", [new_event(data={"n": 2}), new_event(data={"n": 3})])
    store.append("a", [new_event(data={"n": 4})])

    first_page = feed_when_settled(store, 2, limit=2)
    second_page = feed_when_settled(store, 2, first_page[-1].cursor, limit=10)

    assert [e.data["n"] for e in first_page + second_page] == [1, 2, 3, 4]
    assert store.read_feed(second_page[-1].cursor) == []


def test_an_empty_append_writes_nothing(store: Any) -> None:
    assert store.append("a", []) == []
    assert store.read_feed() == []


def test_an_append_to_several_streams_is_all_or_nothing(store: Any) -> None:
    store.append("nomination-1", [new_event()])

    with pytest.raises(ConcurrencyConflictError):
        store.append_streams([("placement-1", [new_event()], NO_STREAM), ("nomination-1", [new_event()], NO_STREAM)])

    assert store.read_stream("placement-1") == []
    store.append_streams([("placement-1", [new_event()], NO_STREAM), ("nomination-1", [new_event()], 1)])
    assert [e.stream for e in feed_when_settled(store, 3)] == ["nomination-1", "placement-1", "nomination-1"]


def test_events_are_found_by_id(store: Any) -> None:
    first, second = new_event(), new_event()
    store.append("a", [first, second])

    assert [e.event_id for e in store.read_events([second.event_id, first.event_id])] == [first.event_id, second.event_id]


def test_values_where_finds_a_field_of_the_matching_events_of_a_prefix(store: Any) -> None:
    store.append("placement-1", [new_event("posting.PlacementPlanned", {"placement_id": "1", "cadre_id": "c1"})])
    store.append("placement-2", [new_event("posting.PlacementPlanned", {"placement_id": "2", "cadre_id": "c2"}),
                                 new_event("posting.PlacementStarted", {"placement_id": "2", "cadre_id": "c1"})])
    store.append("placement-3", [new_event("posting.PlacementPlanned", {"placement_id": "3", "cadre_id": "c1"})])
    store.append("other-4", [new_event("posting.PlacementPlanned", {"placement_id": "4", "cadre_id": "c1"})])

    assert store.values_where("placement-", "posting.PlacementPlanned", "placement_id", "cadre_id", "c1") == {"1", "3"}
    assert store.values_where("placement-", "posting.PlacementPlanned", "placement_id", "cadre_id", "c9") == set()


def test_opening_data_gives_named_fields_of_each_streams_opening_event(store: Any) -> None:
    store.append("assessment-b", [new_event("x.Opened", {"unit": "u2", "year": 2025, "big": {"k": 1}}),
                                  new_event("x.Opened", {"unit": "later", "year": 1})])
    store.append("assessment-a", [new_event("x.Opened", {"unit": "u1", "year": 2026})])
    store.append("assessment-c", [new_event("x.Other", {"unit": "u3"})])
    store.append("other-d", [new_event("x.Opened", {"unit": "u4", "year": 2024})])

    found = store.opening_data("assessment-", "x.Opened", ("unit", "year", "missing"))

    assert list(found) == ["assessment-a", "assessment-b"]
    assert found["assessment-b"] == {"unit": "u2", "year": 2025, "missing": None}
    assert store.opening_data("assessment-", "x.Opened", ("unit",), until=datetime(2000, 1, 1, tzinfo=UTC)) == {}
