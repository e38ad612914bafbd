"""Tiny services used only by the backbone tests: `ledger` writes events, `tally` consumes all of them,
`sieve` only ledger's topic `counted` (ledger.Happened and ledger.Poison, not ledger.Noted)."""
from __future__ import annotations

import uuid

import psycopg
from nameko.rpc import rpc
from nameko.timer import timer

from services.backbone.consumer import Handler
from services.backbone.envelope import RecordedEvent
from services.backbone.providers import ConsumerProvider, EventStoreProvider, FeedEndpoints, RelayProvider
from services.backbone.store import EventStore
from services.backbone.subscribe import subscribe
from services.backbone.topics import Topic
from tests.conftest import new_event

COUNTED = Topic("ledger", "counted", ("ledger.Happened", "ledger.Poison"))
NOTED = Topic("ledger", "noted", ("ledger.Noted",))  # a second topic, so that chains interleave


class Ledger(FeedEndpoints):
    name = "ledger"
    store = EventStoreProvider()
    relay = RelayProvider(topics=(COUNTED, NOTED))

    @rpc
    def slow_query(self, seconds: float) -> float:
        """Holds a pooled connection for `seconds` inside the database."""
        with self.store.transaction() as conn:
            conn.execute("SELECT pg_sleep(%s)", (seconds,))
        return seconds

    @rpc
    def append(self, stream: str, type_: str = "ledger.Happened") -> int:
        recorded = self.store.append(stream, [new_event(type_, {"id": str(uuid.uuid4())})])
        return recorded[0].version


def apply_ledger_event(conn: psycopg.Connection, event: RecordedEvent, store: EventStore) -> None:
    if event.type == "ledger.Poison":
        raise ValueError("this event cannot be applied")
    conn.execute(
        f"INSERT INTO {store.schema}.applied (event_id, stream, version) VALUES (%s, %s, %s)",  # noqa: S608
        (event.event_id, event.stream, event.version),
    )


HANDLERS: dict[str, Handler] = {"ledger": apply_ledger_event}


class Tally(FeedEndpoints):
    name = "tally"
    store = EventStoreProvider()
    consumer = ConsumerProvider(HANDLERS, versions={"ledger": {"ledger.Happened": 1, "ledger.Poison": 1}})

    @subscribe("ledger")
    def on_ledger_event(self, body: dict) -> None:
        """Applies one ledger event exactly once; parks what it cannot apply."""
        self.consumer.receive("ledger", body)

    @timer(interval=2)
    def catch_up(self) -> None:
        self.consumer.catch_up("ledger")


class Sieve(FeedEndpoints):
    name = "sieve"
    store = EventStoreProvider()
    consumer = ConsumerProvider(HANDLERS, versions={"ledger": {"ledger.Happened": 1, "ledger.Poison": 1}},
                                topics={"ledger": COUNTED})

    @subscribe("ledger", topic=COUNTED)
    def on_ledger_event(self, body: dict) -> None:
        """Applies one event of ledger's topic `counted` exactly once; its queue gets no other."""
        self.consumer.receive("ledger", body)

    @timer(interval=600)
    def catch_up(self) -> None:
        """Rarely: the tests of this consumer show that a lost event is found by the topic's chain alone."""
        self.consumer.catch_up("ledger")
