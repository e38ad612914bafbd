"""The idempotent consumer: applies another service's events exactly once, in that service's feed order.

Each applied event is recorded in `consumer_inbox` in the same transaction as the handler's own
writes, so a redelivered message changes nothing. A per-source advisory lock makes concurrent
deliveries (nameko runs each message in its own green thread) apply one at a time. A message whose
`previoussequence` is not the consumer's cursor reveals a gap: the consumer reads the missing events
from the source's feed before going on. A message the handler cannot apply is parked, not lost.
"""
from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

import services.backbone.cooperative  # noqa: F401  (psycopg must yield to eventlet before connecting)
from services.backbone.envelope import FEED_START, FeedCursor, RecordedEvent, dumps, from_cloudevent, to_cloudevent
from services.backbone.logs import correlation_id
from services.backbone.metrics import CONSUMED
from services.backbone.store import EventStore

log = logging.getLogger(__name__)

# A handler gets the transaction to write in, the event, and the consuming service's own event store.
Handler = Callable[[psycopg.Connection, RecordedEvent, EventStore], None]
FetchFeed = Callable[[str, FeedCursor, int], list[dict[str, Any]]]
Outcome = Literal["applied", "duplicate", "caught_up", "parked"]
MAX_MESSAGE_BYTES = 1_000_000


@dataclass
class ConsumerStats:
    applied: int = 0
    duplicates: int = 0
    parked: int = 0
    catch_ups: int = 0


class IdempotentConsumer:
    """Applies events from sources through `handlers[source]`; `fetch_feed` reads a source's feed."""

    def __init__(
        self, pool: ConnectionPool, schema: str, name: str,
        handlers: dict[str, Handler], fetch_feed: FetchFeed, batch_size: int = 200,
        store: EventStore | None = None, versions: dict[str, dict[str, int]] | None = None,
    ) -> None:
        self.pool, self.schema, self.name = pool, schema, name
        self.handlers, self.fetch_feed, self.batch_size = handlers, fetch_feed, batch_size
        self.stats = ConsumerStats()
        self.store = store or EventStore(pool, schema)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        # Per source: the event types this consumer interprets and the newest schema version it understands.
        self.versions = versions or {}
        self._s = sql.Identifier(schema)

    def receive(self, source: str, body: Any) -> Outcome:
        """Handle one delivered message; never raises for a bad message (it is parked instead)."""
        outcome = self._receive(source, body)
        CONSUMED.labels(self.name, source, outcome).inc()
        return outcome

    def _receive(self, source: str, body: Any) -> Outcome:
        if len(dumps(body)) > MAX_MESSAGE_BYTES:
            self.park(source, body, f"oversized message: more than {MAX_MESSAGE_BYTES} bytes")
            return "parked"
        try:
            event = from_cloudevent(body)
            previous = FeedCursor.parse(body.get("previoussequence"))
        except Exception as exc:  # noqa: BLE001  (anything malformed is parked with its reason)
            self.park(source, body, f"malformed message: {exc!r}")
            return "parked"
        if not event.type.startswith(f"{source}."):
            self.park(source, body, f"unknown event type {event.type!r} on {source}'s exchange")
            return "parked"
        outcome = self._apply_in_order(source, event, previous)
        if outcome == "gap":
            self.catch_up(source)
            return "caught_up"
        return outcome

    def catch_up(self, source: str) -> int:
        """Read and apply the source's feed after our cursor until we reach its end."""
        self.stats.catch_ups += 1
        applied = 0
        while True:
            cursor = self.cursor(source)
            bodies = self.fetch_feed(source, cursor, self.batch_size)
            for body in bodies:
                event = from_cloudevent(body)
                if self._apply_in_order(source, event, None) == "applied":
                    applied += 1
            if len(bodies) < self.batch_size:
                return applied

    def _apply_in_order(self, source: str, event: RecordedEvent, previous: FeedCursor | None) -> Outcome | Literal["gap"]:
        correlation_id.set(event.metadata.correlation_id)
        # One delivery per source at a time within this process, before a pooled connection is taken:
        # deliveries waiting on the database's advisory lock would otherwise hold the whole pool.
        with self._source_lock(source), self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"consumer:{self.schema}:{self.name}:{source}",))
            cursor = self.cursor(source, conn)
            if event.cursor <= cursor or self._seen(conn, event):
                self.stats.duplicates += 1
                return "duplicate"
            if previous is not None and previous > cursor:
                return "gap"
            error = self._apply(conn, source, event)
            if error is not None:
                # Parked while the source's lock is still held: a concurrent delivery of the same event
                # waits, then finds it seen, instead of parking it a second time.
                self._park_event(conn, source, event, error)
                return "parked"
            self._record(conn, source, event)
        self.stats.applied += 1
        log.info("applied %s from %s", event.type, source, extra={"consumer": self.name, "event_id": str(event.event_id)})
        return "applied"

    def _source_lock(self, source: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(source, threading.Lock())

    def _apply(self, conn: psycopg.Connection, source: str, event: RecordedEvent) -> str | None:
        """Run the handler in a savepoint; the reason it failed, or None. A lost database is raised, not parked."""
        try:
            self._check_version(source, event)
            with conn.transaction():
                self._handler(source)(conn, event, self.store)
        except _NoHandlerError as exc:
            return str(exc)
        except psycopg.OperationalError:
            raise  # the database is away: nothing to park; the source's feed will be read again
        except Exception:  # noqa: BLE001  (a poison event: park it and go on)
            return traceback.format_exc(limit=5)
        return None

    def _check_version(self, source: str, event: RecordedEvent) -> None:
        understood = self.versions.get(source, {}).get(event.type)
        if understood is not None and event.schema_version > understood:
            raise _NoHandlerError(f"{event.type} v{event.schema_version} is newer than this consumer understands"
                                  f" (v{understood}); upgrade the consumer, then replay the parked event")

    def _handler(self, source: str) -> Handler:
        try:
            return self.handlers[source]
        except KeyError:
            raise _NoHandlerError(f"no handler for events from {source!r}") from None

    def _seen(self, conn: psycopg.Connection, event: RecordedEvent) -> bool:
        query = sql.SQL("SELECT 1 FROM {}.consumer_inbox WHERE consumer = %s AND event_id = %s").format(self._s)
        return conn.execute(query, (self.name, event.event_id)).fetchone() is not None

    def _record(self, conn: psycopg.Connection, source: str, event: RecordedEvent) -> None:
        conn.execute(
            sql.SQL("INSERT INTO {}.consumer_inbox (consumer, event_id, source) VALUES (%s, %s, %s)").format(self._s),
            (self.name, event.event_id, source),
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.consumer_cursor (consumer, source, era, tx_id, position) VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (consumer, source) DO UPDATE SET era = EXCLUDED.era, tx_id = EXCLUDED.tx_id,"
                " position = EXCLUDED.position, updated_at = now()"
            ).format(self._s),
            (self.name, source, *event.cursor),
        )

    def cursor(self, source: str, conn: psycopg.Connection | None = None) -> FeedCursor:
        """The feed position of the last event applied (or parked) from `source`."""
        query = sql.SQL("SELECT era, tx_id, position FROM {}.consumer_cursor WHERE consumer = %s AND source = %s")
        if conn is None:
            with self.pool.connection() as own:
                row = own.execute(query.format(self._s), (self.name, source)).fetchone()
        else:
            row = conn.execute(query.format(self._s), (self.name, source)).fetchone()
        return FeedCursor(*row) if row else FEED_START

    def _park_event(self, conn: psycopg.Connection, source: str, event: RecordedEvent, error: str) -> None:
        """Park an event that failed, and move the cursor past it so the source's next events flow."""
        self._insert_parked(conn, source, str(event.event_id), event.type, dumps(to_cloudevent(event, None)), error)
        self._record(conn, source, event)
        log.error("consumer %s parked %s %s: %s", self.name, event.type, event.event_id, error.splitlines()[-1])

    def park(self, source: str, body: Any, error: str) -> None:
        """Park a message that is not even a readable event."""
        raw = body if isinstance(body, str) else dumps(body)
        event_id = body.get("id") if isinstance(body, dict) else None
        type_ = body.get("type") if isinstance(body, dict) else None
        with self.pool.connection() as conn, conn.transaction():
            self._insert_parked(conn, source, event_id, type_, raw, error)
        log.error("consumer %s parked a malformed message from %s: %s", self.name, source, error)

    def _insert_parked(self, conn: psycopg.Connection, source: str, event_id: str | None, type_: str | None,
                       body: str, error: str) -> None:
        self.stats.parked += 1
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.parked_messages (consumer, source, event_id, type, body, error) VALUES (%s, %s, %s, %s, %s, %s)"
            ).format(self._s),
            (self.name, source, event_id, type_, body, error),
        )

    def parked(self, include_resolved: bool = False) -> list[dict[str, Any]]:
        """Parked messages for operators: id, source, event id, type, error, when."""
        query = sql.SQL(
            "SELECT id, source, event_id, type, error, parked_at, resolved_at FROM {}.parked_messages"
            " WHERE consumer = %s AND (%s OR resolved_at IS NULL) ORDER BY id"
        ).format(self._s)
        with self.pool.connection() as conn:
            rows = conn.execute(query, (self.name, include_resolved)).fetchall()
        keys = ("id", "source", "event_id", "type", "error", "parked_at", "resolved_at")
        return [dict(zip(keys, row, strict=True)) for row in rows]


class _NoHandlerError(Exception):
    pass
