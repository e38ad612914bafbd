"""The architecture's floor, which the end-to-end benchmark measures beside the bare ceiling: the shared
backbone of docs/architecture.md with no domain in it. `floor_origin` answers `POST /floor/events` by
appending one event to a stream of its own (the event store's append: the stream's lock, the idempotency
check by event id, the insert), seals it into its audit chain (the sequencer) and publishes it with
publisher confirms (the relay); `floor_sink`, another process, consumes it through the idempotent
consumer (inbox, cursor, the source's feed order) and projects it into one row, as a read model would.
No authorisation, validation, fold or decision: what every command of the real services pays on top of
its own work, and the least any command of this architecture can cost.

    nameko run bench.floor_service:Sink ...; nameko run bench.floor_service:Origin ...   (bench/e2e.py)
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from nameko.timer import timer
from nameko.web.handlers import http

from services.backbone.domain import Actor
from services.backbone.envelope import Metadata, NewEvent, RecordedEvent
from services.backbone.providers import (
    ConsumerProvider,
    EventStoreProvider,
    FeedEndpoints,
    RelayProvider,
    SequencerProvider,
)
from services.backbone.store import EventStore
from services.backbone.subscribe import subscribe

ORIGIN, SINK = "floor_origin", "floor_sink"
PROJECTED = f"{SINK}.projected"  # created by bench/e2e.py once the sink has migrated its schema
ACTOR = Actor("bench.floor", "integration")


class Origin(FeedEndpoints):
    name = ORIGIN
    store = EventStoreProvider()
    relay = RelayProvider()
    sequencer = SequencerProvider()

    @http("GET", "/floor")
    def ready(self, request: Any) -> str:
        return "ok"

    @http("POST", "/floor/events")
    def append_one(self, request: Any) -> tuple[int, str]:
        command_id = str(uuid.uuid4())
        metadata = Metadata(actor=ACTOR, command_id=command_id, correlation_id=command_id, source=ORIGIN,
                            occurred_at=datetime.now(UTC))
        event = NewEvent(uuid.uuid4(), f"{ORIGIN}.Happened", 1, json.loads(request.get_data(as_text=True)), metadata)
        recorded = self.store.append(f"floor-{command_id}", [event], expected_version=0)
        return 201, json.dumps({"event_id": str(recorded[0].event_id), "version": recorded[0].version})


def project(conn: psycopg.Connection, events: Sequence[RecordedEvent],
            store: EventStore) -> list[tuple[RecordedEvent, Exception]]:
    conn.execute(f"INSERT INTO {PROJECTED} (event_id, stream) SELECT * FROM unnest(%s::uuid[], %s::text[])",  # noqa: S608
                 ([e.event_id for e in events], [e.stream for e in events]))
    return []


class Sink(FeedEndpoints):
    name = SINK
    store = EventStoreProvider()
    consumer = ConsumerProvider({}, batch_handlers={ORIGIN: project})

    @subscribe(ORIGIN)
    def on_origin_event(self, body: dict[str, Any]) -> None:
        self.consumer.receive(ORIGIN, body)

    @timer(interval=10)
    def catch_up(self) -> None:
        self.consumer.catch_up(ORIGIN)
