"""The bulk feed (`read_feed_page`) says exactly what the per-event feed says: the same CloudEvents, key for
key, personal fields and reasons revealed, in the same order, paged by the same cursors."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from services.backbone.bulkfeed import cloudevents_after, feed_page, pack_page, parse_page, unpack_page
from services.backbone.envelope import FEED_START, FeedCursor
from services.backbone.store import EventStore
from services.backbone.vault import Vault
from tests.conftest import new_event


@pytest.fixture
def store(db_url: str, schema: str) -> Iterator[EventStore]:
    with ConnectionPool(db_url, min_size=1, max_size=4) as pool:
        yield EventStore(pool, schema, vault=Vault(pool, schema))


def per_event_feed(store: EventStore, after: FeedCursor, limit: int) -> list[dict[str, Any]]:
    """What the `read_feed` RPC and `GET /<service>/feed` return (services/backbone/providers.py, edge.py)."""
    return cloudevents_after(store, after, limit)


def wait_for_feed(store: EventStore, events: int) -> None:
    deadline = time.monotonic() + 10
    while len(store.read_feed(FEED_START, 100)) < events and time.monotonic() < deadline:
        time.sleep(0.05)  # other transactions in the cluster may hold the feed's horizon back


def comparable(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "time": datetime.fromisoformat(body["time"]),
            "fourgatesmetadata": {**body["fourgatesmetadata"],
                                  "occurred_at": datetime.fromisoformat(body["fourgatesmetadata"]["occurred_at"])}}


def test_a_bulk_page_holds_the_same_cloudevents_as_the_per_event_feed(store: EventStore) -> None:
    vault = store.vault
    assert vault is not None
    for n in range(7):
        data = {"cadre_id": f"c-{n}", "n": n, "note": "混合 text \"quoted\"\n\ttabbed \\ back"}
        if n % 3 == 0:  # a personal field and a personal reason, sealed as the services seal them
            data = vault.seal(f"c-{n}", {**data, "name": f"张{n}"}, ("name",))
        store.append(f"cadre-{n % 2}", [new_event("test.Happened", data, reason=vault.seal_text(f"c-{n}", "本人申请")
                                                  if n % 3 == 0 else "plain reason")])
    wait_for_feed(store, 7)

    first = parse_page(feed_page(store, FEED_START, 4))
    after = FeedCursor.parse(first[-1]["sequence"])
    rest = parse_page(feed_page(store, after, 100))

    expected = per_event_feed(store, FEED_START, 4) + per_event_feed(store, after, 100)
    assert [comparable(b) for b in first + rest] == [comparable(b) for b in expected]
    assert [b["data"].get("name") for b in first + rest] == ["张0", None, None, "张3", None, None, "张6"]
    assert first[0]["fourgatesmetadata"]["reason"] == "本人申请"
    assert parse_page(feed_page(store, FeedCursor.parse(rest[-1]["sequence"]), 100)) == []


def test_a_packed_page_is_the_same_page_several_times_smaller(store: EventStore) -> None:
    for n in range(40):
        store.append(f"unit-{n % 3}", [new_event("test.Happened", {"n": n, "unit": "清水镇", "note": "民主测评 \"优秀\""})])
    wait_for_feed(store, 40)
    text = feed_page(store, FEED_START, 100)

    packed = pack_page(text)

    assert packed.isascii() and json.dumps(packed) == f'"{packed}"'  # nothing for the RPC's JSON to escape
    assert len(packed) * 3 < len(text.encode())
    assert unpack_page(packed) == text
    assert unpack_page(pack_page("")) == "" and parse_page("") == []


def test_a_page_with_what_orjson_refuses_is_still_read() -> None:
    huge = 2**70  # jsonb keeps any numeric; orjson stops at 64 bits
    page = "\n".join([json.dumps({"id": "a", "data": {"n": huge}}), json.dumps({"id": "b", "data": {"x": 1.5}})])

    assert parse_page(page) == [{"id": "a", "data": {"n": huge}}, {"id": "b", "data": {"x": 1.5}}]


def test_a_page_after_any_cursor_names_the_event_really_before_it(store: EventStore) -> None:
    for n in range(4):  # four transactions: the feed's cursors are far apart
        store.append(f"unit-{n}", [new_event("test.Happened", {"n": n})])
    wait_for_feed(store, 4)
    events = store.read_feed(FEED_START, 10)
    second, third = events[1].cursor, events[2].cursor
    made_up = FeedCursor(second.era, second.tx_id, second.position + 1_000_000)  # between the second and third
    assert second < made_up < third

    for after in (second, made_up):
        assert [b["previoussequence"] for b in per_event_feed(store, after, 10)] == [second.token, third.token]
        assert [b["previoussequence"] for b in parse_page(feed_page(store, after, 10))] == [second.token, third.token]
    assert per_event_feed(store, FeedCursor(0, 0, 1), 1)[0]["previoussequence"] == ""  # nothing before the first
    assert per_event_feed(store, events[-1].cursor, 10) == []


def test_the_event_before_a_cursor_is_read_from_the_index_not_the_whole_log(store: EventStore, db_url: str) -> None:
    """Each feed page asks for the event before its cursor; ordered by the output's tx_id (a cast) instead of
    the column, that read scanned and sorted the whole log — 150 ms a page on a million events, which made
    a rebuild 3 times slower. Planned both ways PostgreSQL may choose (as a generic plan and a custom one)."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")  # so that only an unusable index shows (the table is small)
        conn.execute(f"PREPARE before_cursor(int, text, bigint) AS {store._q.predecessor % ('$1', '$2', '$3')}")
        for mode in ("force_generic_plan", "force_custom_plan"):
            conn.execute(f"SET plan_cache_mode = {mode}")
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN EXECUTE before_cursor(1, '1', 0)").fetchall())
            assert "events_feed_order" in plan and "Sort" not in plan, (mode, plan)
