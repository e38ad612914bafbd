"""An in-memory event store with the same contract as the PostgreSQL one, for fast domain tests."""
from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from services.backbone.envelope import FEED_START, AlreadyStored, FeedCursor, NewEvent, RecordedEvent
from services.backbone.errors import ConcurrencyConflictError, IdempotencyMismatchError
from services.backbone.store import ANY_VERSION


class InMemoryEventStore:
    """Same methods as EventStore; `conn` arguments are accepted and ignored."""

    vault = None

    def __init__(self, schema: str = "memory") -> None:
        self.schema = schema
        self._events: list[RecordedEvent] = []
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield None

    def append(
        self, stream: str, events: Sequence[NewEvent], expected_version: int | None = ANY_VERSION, conn: Any = None
    ) -> list[RecordedEvent]:
        if not events:
            return []
        with self._lock:
            ids = {e.event_id for e in events}
            existing = [e for e in self._events if e.event_id in ids]
            if existing:
                if len(existing) != len(ids):
                    raise IdempotencyMismatchError("part of this append is already stored")
                return AlreadyStored(existing)
            current = self._version(stream)
            if expected_version is not None and current != expected_version:
                raise ConcurrencyConflictError(stream, expected_version, current)
            last = self._events[-1].cursor.position if self._events else 0
            recorded = [self._record(stream, current + i + 1, last + i + 1, e) for i, e in enumerate(events)]
            self._events.extend(recorded)
            return recorded

    def append_streams(
        self, batches: Sequence[tuple[str, Sequence[NewEvent], int | None]], conn: Any = None
    ) -> list[RecordedEvent]:
        with self._lock:
            snapshot = list(self._events)
            try:
                return [e for stream, events, expected in batches for e in self.append(stream, events, expected)]
            except Exception:
                self._events[:] = snapshot  # all or nothing, like one database transaction
                raise

    def read_events(self, event_ids: Sequence[Any], conn: Any = None) -> list[RecordedEvent]:
        wanted = set(event_ids)
        return [e for e in self._events if e.event_id in wanted]

    def revealed(self, event: RecordedEvent) -> RecordedEvent:
        return event

    def _record(self, stream: str, version: int, position: int, event: NewEvent) -> RecordedEvent:
        return RecordedEvent(
            event_id=event.event_id, stream=stream, version=version, type=event.type,
            schema_version=event.schema_version, data=event.data, metadata=event.metadata,
            cursor=FeedCursor(1, position, position), recorded_at=datetime.now(UTC),
        )

    def _version(self, stream: str) -> int:
        return max((e.version for e in self._events if e.stream == stream), default=0)

    def read_stream(self, stream: str, until: datetime | None = None, conn: Any = None) -> list[RecordedEvent]:
        return [e for e in self._events if e.stream == stream and (until is None or e.recorded_at <= until)]

    def stream_version(self, stream: str, conn: Any = None) -> int:
        return self._version(stream)

    def read_feed(self, after: FeedCursor = FEED_START, limit: int = 500, conn: Any = None) -> list[RecordedEvent]:
        return [e for e in self._events if e.cursor > after][:limit]

    def read_streams(self, streams: Sequence[str], until: datetime | None = None, conn: Any = None) -> list[RecordedEvent]:
        wanted = set(streams)
        return sorted((e for e in self._events if e.stream in wanted and (until is None or e.recorded_at <= until)),
                      key=lambda e: (e.stream, e.version))

    def opening_data(self, prefix: str, type_: str, fields: Sequence[str], until: datetime | None = None,
                     conn: Any = None) -> dict[str, dict[str, Any]]:
        return {e.stream: {f: e.data.get(f) for f in fields}
                for e in sorted(self._events, key=lambda e: e.stream)
                if e.stream.startswith(prefix) and e.type == type_ and e.version == 1
                and (until is None or e.recorded_at <= until)}

    def values_where(self, prefix: str, type_: str, field: str, key: str, value: str, conn: Any = None) -> set[str]:
        return {str(e.data[field]) for e in self._events if e.stream.startswith(prefix) and e.type == type_
                and e.data.get(key) == value and e.data.get(field) is not None}

    def read_streams_prefix(self, prefix: str, conn: Any = None) -> list[RecordedEvent]:
        return sorted((e for e in self._events if e.stream.startswith(prefix)), key=lambda e: (e.stream, e.version))
