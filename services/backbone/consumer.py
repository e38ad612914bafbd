"""The idempotent consumer: applies another service's events exactly once, in that service's feed order.

Each applied event is recorded in `consumer_inbox` in the same transaction as the handler's own
writes, so a redelivered message changes nothing. A per-source advisory lock makes concurrent
deliveries (nameko runs each message in its own green thread) apply one batch at a time. A message whose
`previoussequence` is not the consumer's cursor reveals a gap: the consumer reads the missing events
from the source's feed before going on. A consumer subscribed to one of the source's topics (topics.py)
receives that topic's events alone and checks their `topicprevious` instead: the cursor of the topic's
previous event, which must not be ahead of its own. A message the handler cannot apply is parked, not lost.

Deliveries that arrive while a batch is being applied wait in arrival order and go in the next batch.
With a batch handler (reporting's projections) the batch is one transaction (group commit): at a
trickle each event is its own batch; under load the fixed cost of a transaction is shared, so the
consumer catches up instead of falling behind. Per-event handlers get a transaction per event, since
they may append to their own service's log, which must be the first write of its transaction; the
events of types they do not interpret (those missing from `versions[source]`) are only recorded, and
ride in the transaction of the next event they do interpret. Each message is acknowledged only after
the transaction that applied it commits.
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

import services.backbone.cooperative  # noqa: F401  (psycopg must yield to eventlet before connecting)
from services.backbone.envelope import FEED_START, FeedCursor, RecordedEvent, from_cloudevent, wire_size
from services.backbone.logs import correlation_id
from services.backbone.metrics import CONSUMED, CONSUMER_LAG, REWINDS
from services.backbone.parking import ParkedMessages, ParkedStillFailsError
from services.backbone.pipelining import pipelined_transaction
from services.backbone.store import UNPREPARED, EventStore
from services.backbone.topics import Topic, parse_previous

log = logging.getLogger(__name__)
__all__ = ["BatchHandler", "Handler", "IdempotentConsumer", "ParkedStillFailsError"]

# A handler gets the transaction to write in, the event, and the consuming service's own event store.
Handler = Callable[[psycopg.Connection, RecordedEvent, EventStore], None]
# Or a whole batch at once (in feed order): returns the events it could not apply (left out, unchanged) and why.
BatchHandler = Callable[[psycopg.Connection, Sequence[RecordedEvent], EventStore], list[tuple[RecordedEvent, Exception]]]
FetchFeed = Callable[[str, FeedCursor, int], list[dict[str, Any]]]
Outcome = Literal["applied", "duplicate", "caught_up", "parked"]
MAX_MESSAGE_BYTES = 1_000_000
MAX_BATCH = 200
PIPELINED_BATCH = 16  # deliveries: up to this many are applied in a pipelined transaction


@dataclass
class _Delivery:
    """One event waiting to be applied, and what became of it."""

    event: RecordedEvent
    previous: FeedCursor | None
    outcome: Outcome | Literal["gap"] | None = None
    error: BaseException | None = None


@dataclass
class ConsumerStats:
    applied: int = 0
    duplicates: int = 0
    parked: int = 0
    catch_ups: int = 0


class IdempotentConsumer(ParkedMessages):
    """Applies events from sources through `handlers[source]`; `fetch_feed` reads a source's feed."""

    def __init__(
        self, pool: ConnectionPool, schema: str, name: str,
        handlers: dict[str, Handler], fetch_feed: FetchFeed, batch_size: int = 200,
        store: EventStore | None = None, versions: dict[str, dict[str, int]] | None = None,
        batch_handlers: dict[str, BatchHandler] | None = None, topics: dict[str, Topic] | None = None,
    ) -> None:
        self.pool, self.schema, self.name = pool, schema, name
        self.handlers, self.fetch_feed, self.batch_size = handlers, fetch_feed, batch_size
        self.batch_handlers = batch_handlers or {}
        self._waiting: dict[str, deque[_Delivery]] = {}
        self.stats = ConsumerStats()
        self.store = store or EventStore(pool, schema)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        # Per source: the event types this consumer interprets and the newest schema version it understands.
        # A per-event handler is not called for the other types (they are recorded as seen): list every type it acts on.
        self.versions = versions or {}
        # Per source: the published topic this consumer subscribes to (its queue receives that topic's
        # types alone), which must hold every type the handler acts on.
        self.topics = topics or {}
        for source, topic in self.topics.items():
            if topic.source != source or not topic.covers(self.versions.get(source, {"(every type)": 0})):
                raise ValueError(f"consumer {name}: {source}'s topic {topic.name!r} must hold every type it acts on")
        self._s = sql.Identifier(schema)
        # The SQL of every delivery, composed once (psycopg would compose a sql.Composed again at each execute).
        self._q_position = sql.SQL(
            "SELECT c.era, c.tx_id, c.position, (SELECT array_agg(event_id) FROM {s}.consumer_inbox"
            "  WHERE consumer = %s AND event_id = ANY(%s)), c.inbox_era, c.inbox_tx_id, c.inbox_position"
            " FROM (SELECT 1) AS one"
            " LEFT JOIN {s}.consumer_cursor c ON c.consumer = %s AND c.source = %s").format(s=self._s).as_string(None)
        # for a delivery alone (the usual case): by equality, prepared -- an index lookup however small the inbox
        # was when the plan was made; the array form is planned with its values at each run (UNPREPARED)
        self._q_position_one = self._q_position.replace("event_id = ANY(%s)", "event_id = %s")
        assert self._q_position_one != self._q_position, "the inbox check's array form changed: mend its equality form"
        self._q_rewind = sql.SQL("UPDATE {s}.consumer_cursor SET era = %s, tx_id = %s, position = %s, updated_at = now()"
                                 " WHERE consumer = %s AND source = %s").format(s=self._s).as_string(None)
        self._q_record = sql.SQL(
            "WITH seen AS (INSERT INTO {s}.consumer_inbox (consumer, event_id, source, processed_at)"
            "  SELECT %s, unnest(%s::uuid[]), %s, clock_timestamp())"
            " INSERT INTO {s}.consumer_cursor (consumer, source, era, tx_id, position) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (consumer, source) DO UPDATE SET era = EXCLUDED.era, tx_id = EXCLUDED.tx_id,"
            " position = EXCLUDED.position, updated_at = now()").format(s=self._s).as_string(None)
        self._q_seen = sql.SQL("INSERT INTO {s}.consumer_inbox (consumer, event_id, source, processed_at)"
                               " SELECT %s, unnest(%s::uuid[]), %s, clock_timestamp()").format(s=self._s).as_string(None)
        self._q_cursor = sql.SQL("SELECT era, tx_id, position FROM {}.consumer_cursor WHERE consumer = %s AND source = %s"
                                 ).format(self._s).as_string(None)

    def receive(self, source: str, body: Any) -> Outcome:
        """Handle one delivered message; never raises for a bad message (it is parked instead)."""
        outcome = self._receive(source, body)
        CONSUMED.labels(self.name, source, outcome).inc()
        return outcome

    def _receive(self, source: str, body: Any) -> Outcome:
        if wire_size(body) > MAX_MESSAGE_BYTES:
            self.park(source, body, f"oversized message: more than {MAX_MESSAGE_BYTES} bytes")
            return "parked"
        try:
            event = from_cloudevent(body)
            previous = self._previous(source, body)
        except Exception as exc:  # noqa: BLE001  (anything malformed is parked with its reason)
            self.park(source, body, f"malformed message: {exc!r}")
            return "parked"
        if not event.type.startswith(f"{source}."):
            self.park(source, body, f"unknown event type {event.type!r} on {source}'s exchange")
            return "parked"
        return self._deliver(source, event, previous)

    def _previous(self, source: str, body: dict[str, Any]) -> FeedCursor:
        """Where the event's predecessor is in the feed: in the consumer's topic if it subscribes to one (its
        queue gets no other events), else in the whole feed; an event that does not name the topic shows a
        gap unless it directly follows the cursor (see topics.py)."""
        topic = self.topics.get(source)
        in_topic = parse_previous(body.get("topicprevious"), topic.name) if topic is not None else None
        return in_topic if in_topic is not None else FeedCursor.parse(body.get("previoussequence"))

    def catch_up(self, source: str) -> int:
        """Read and apply the source's feed after our cursor until we reach its end.

        Each page is read without holding the source's lock: the source may be slow to answer (busy, or
        away until the call times out), and its live deliveries must not wait for that meanwhile (under load
        they held every worker of the service for the call's 5 s timeout). What the live deliveries applied
        in between is skipped as seen when the page is applied, under the lock.
        """
        return self._catch_up(source, locked=False)

    def _catch_up(self, source: str, locked: bool = True) -> int:
        self.stats.catch_ups += 1
        applied = 0
        while True:
            bodies = self.fetch_feed(source, self.cursor(source), self.batch_size)
            deliveries = [_Delivery(from_cloudevent(body), None) for body in bodies]
            if deliveries:
                with nullcontext() if locked else self._source_lock(source):
                    self._apply_batch(source, deliveries)
                if failed := next((d.error for d in deliveries if d.error is not None), None):
                    raise failed
            applied += sum(d.outcome == "applied" for d in deliveries)
            if len(bodies) < self.batch_size:
                return applied

    def _deliver(self, source: str, event: RecordedEvent, previous: FeedCursor | None) -> Outcome:
        """Queue the event in arrival order; whoever holds the source's lock applies everything queued so far."""
        delivery = _Delivery(event, previous)
        waiting = self._waiting.setdefault(source, deque())
        waiting.append(delivery)
        # One batch per source at a time within this process, before a pooled connection is taken:
        # deliveries waiting on the database's advisory lock would otherwise hold the whole pool.
        with self._source_lock(source):
            while delivery.outcome is None and delivery.error is None:
                batch = [waiting.popleft() for _ in range(min(len(waiting), MAX_BATCH))]
                self._apply_batch(source, batch)
                if gaps := [d for d in batch if d.outcome == "gap"]:
                    self._catch_up_for(source, gaps)
        if delivery.error is not None:
            raise delivery.error  # nothing of it was written and the cursor did not move: the feed brings it again
        assert delivery.outcome is not None and delivery.outcome != "gap"
        return delivery.outcome

    def _catch_up_for(self, source: str, gaps: list[_Delivery]) -> None:
        """Events the broker delivered after a lost one: read the feed from our cursor, which includes them."""
        try:
            self._catch_up(source)
        except Exception as exc:  # noqa: BLE001  (the source may be away: the messages fail, the timer retries)
            for delivery in gaps:
                delivery.error = exc
        else:
            for delivery in gaps:
                delivery.outcome = "caught_up"

    def _apply_batch(self, source: str, batch: list[_Delivery]) -> None:
        """Apply a batch in one transaction, setting each delivery's outcome (or error)."""
        if len(batch) > 1 and source not in self.batch_handlers:
            # A per-event handler may append to this service's own log, and an append must be the first
            # write of its transaction (it fixes the feed position): at most one event the handler
            # interprets per transaction, with the events before it that it does not (recorded only).
            segments = self._segments(source, batch)
            if len(segments) > 1:
                for i, segment in enumerate(segments):
                    self._apply_batch(source, segment)
                    if (error := next((d.error for d in segment if d.error is not None), None)) is not None:
                        for later in (d for rest in segments[i + 1:] for d in rest):
                            later.error = error  # stop there: what follows must not move the cursor past it
                        return
                return
        try:
            try:
                self._apply_in_order(source, batch)
            except psycopg.OperationalError:
                raise
            except Exception:  # noqa: BLE001  (the batch's transaction failed as a whole: one event at a time)
                if len(batch) == 1 and not self.batch_handlers.get(source):
                    raise
                for delivery in batch:
                    self._apply_in_order(source, [delivery], one_by_one=True)
        except BaseException as exc:
            for delivery in batch:
                if delivery.outcome is None:
                    delivery.error = exc
            if not isinstance(exc, Exception):
                raise

    def _interprets(self, source: str, event: RecordedEvent) -> bool:
        """Does this consumer's handler act on the event? Without declared types, every event counts."""
        types = self.versions.get(source)
        return types is None or event.type in types

    def _in_topic(self, source: str, event: RecordedEvent) -> bool:
        """Is the event one the consumer's queue receives (all of them, unless it subscribes to a topic)?"""
        topic = self.topics.get(source)
        return topic is None or event.type in topic.types

    def _segments(self, source: str, batch: list[_Delivery]) -> list[list[_Delivery]]:
        """The batch cut after each event the handler interprets (a per-event handler's transactions)."""
        segments: list[list[_Delivery]] = [[]]
        for delivery in batch:
            segments[-1].append(delivery)
            if self._interprets(source, delivery.event):
                segments.append([])
        return [segment for segment in segments if segment]

    def _apply_in_order(self, source: str, batch: list[_Delivery], one_by_one: bool = False) -> None:
        """One transaction for the batch; the outcomes are set only once it has committed."""
        outcomes: list[Outcome | Literal["gap"]] = []
        # A small batch's transaction is pipelined (BEGIN, the lock and the position in one round trip; the
        # inbox, the cursor and COMMIT in another) when a batch handler applies it or when it only records
        # events a per-event handler does not act on. A per-event handler that acts appends to its own log,
        # and a large batch shares its round trips anyway (and may want COPY): a plain transaction.
        pipelined = len(batch) <= PIPELINED_BATCH and (
            source in self.batch_handlers or not any(self._interprets(source, d.event) for d in batch))
        with self.pool.connection() as conn, (pipelined_transaction(conn) if pipelined else conn.transaction()):
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"consumer:{self.schema}:{self.name}:{source}",))
            cursor, seen, inbox_since = self._position(conn, source, batch)
            fresh: list[RecordedEvent] = []
            rewind_to: FeedCursor | None = None
            for delivery in batch:
                event = delivery.event
                if event.event_id in seen or event.cursor <= inbox_since:
                    outcomes.append("duplicate")
                elif event.cursor <= cursor and not self._in_topic(source, event):
                    # Outside the consumer's topic, and passed: a catch-up read it while a delivery of the
                    # topic moved the cursor beyond it. The consumer has nothing to do with it.
                    outcomes.append("duplicate")
                elif event.cursor <= cursor:
                    # Behind the cursor, yet never applied: the cursor was moved past it, by an event its
                    # source never sent (a forged or misrouted message). Read the feed again from before it.
                    behind = max(delivery.previous or inbox_since, inbox_since)
                    rewind_to = behind if rewind_to is None else min(rewind_to, behind)
                    outcomes.append("gap")
                elif "gap" in outcomes or (delivery.previous is not None and delivery.previous > cursor):
                    outcomes.append("gap")  # this and what follows wait for the catch-up through the feed
                else:
                    outcomes.append("applied")
                    fresh.append(event)
                    cursor = event.cursor
                    seen.add(event.event_id)  # a second copy in this batch (a republish, a redelivery) is a duplicate
            failures = self._run_handlers(conn, source, fresh, one_by_one)
            for event in fresh:
                if (error := failures.get(event.event_id)) is not None:
                    # Parked while the source's lock is still held: a concurrent delivery of the same event
                    # waits, then finds it seen, instead of parking it a second time.
                    self._park_event(conn, source, event, error)
            self._record(conn, source, fresh)
            if rewind_to is not None:
                self._rewind(conn, source, cursor, rewind_to)
        for delivery, outcome in zip(batch, outcomes, strict=True):
            if outcome == "applied" and delivery.event.event_id in failures:
                outcome = "parked"
            delivery.outcome = outcome
            if outcome == "duplicate":
                self.stats.duplicates += 1
            elif outcome == "applied":
                self.stats.applied += 1
                if self._in_topic(source, delivery.event):  # the others a catch-up only passed: no lag, no log line
                    CONSUMER_LAG.labels(self.name, source).observe(
                        max(0.0, time.time() - delivery.event.recorded_at.timestamp()))
                    correlation_id.set(delivery.event.metadata.correlation_id)
                    log.info("applied %s from %s", delivery.event.type, source,
                             extra={"consumer": self.name, "event_id": str(delivery.event.event_id)})

    def _run_handlers(self, conn: psycopg.Connection, source: str, events: list[RecordedEvent],
                      one_by_one: bool) -> dict[Any, str]:
        """Apply the events; the reason each failed one failed. A lost database is raised, not parked."""
        failures: dict[Any, str] = {}
        understood: list[RecordedEvent] = []
        for event in events:
            try:
                self._check_version(source, event)
                understood.append(event)
            except _NoHandlerError as exc:
                failures[event.event_id] = str(exc)
        batch_handler = self.batch_handlers.get(source)
        if batch_handler is not None and not one_by_one:
            for event, failure in batch_handler(conn, understood, self.store):
                failures[event.event_id] = "".join(traceback.format_exception(failure, limit=5))
            return failures
        for event in understood:
            if batch_handler is None and not self._interprets(source, event):
                continue  # not ours: recorded as seen, the per-event handler is not called
            correlation_id.set(event.metadata.correlation_id)
            error = self._apply(conn, source, event)
            if error is not None:
                failures[event.event_id] = error
        return failures

    def _source_lock(self, source: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(source, threading.Lock())

    def _apply(self, conn: psycopg.Connection, source: str, event: RecordedEvent) -> str | None:
        """Run the handler in a savepoint; the reason it failed, or None. A lost database is raised, not parked."""
        try:
            with conn.transaction():
                batch_handler = self.batch_handlers.get(source)
                if batch_handler is not None:
                    for _, exc in batch_handler(conn, [event], self.store):
                        raise exc
                else:
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

    def _position(self, conn: psycopg.Connection, source: str,
                  batch: list[_Delivery]) -> tuple[FeedCursor, set[Any], FeedCursor]:
        """Our cursor in the source's feed, which of the batch's events the inbox has seen already, and up to
        where events were applied without being recorded in the inbox (a rebuild's load; else the start)."""
        if len(batch) == 1:
            row = conn.execute(self._q_position_one, (self.name, batch[0].event.event_id, self.name, source)).fetchone()
        else:  # the inbox grows: see UNPREPARED
            row = conn.execute(self._q_position, (self.name, [d.event.event_id for d in batch], self.name, source),
                               prepare=UNPREPARED).fetchone()
        assert row is not None
        cursor = FeedCursor(*row[:3]) if row[0] is not None else FEED_START
        inbox_since = FeedCursor(*row[4:7]) if row[4] is not None else FEED_START
        return cursor, set(row[3] or ()), inbox_since

    def _rewind(self, conn: psycopg.Connection, source: str, cursor: FeedCursor, to: FeedCursor) -> None:
        """Move the cursor back to `to`: the catch-up reads the feed from there, and the inbox skips what was
        applied already. Loud: something moved the cursor past events the source had not yet sent."""
        conn.execute(self._q_rewind, (*to, self.name, source))
        REWINDS.labels(self.name, source).inc()
        log.error("consumer %s: an event from %s arrived behind the cursor %s and was never applied; the cursor had"
                  " been moved past it by a message %s never sent. Rewound to %s to read the feed again",
                  self.name, source, cursor, source, to, extra={"consumer": self.name})

    def _record(self, conn: psycopg.Connection, source: str, events: list[RecordedEvent]) -> None:
        """The events in the inbox, and the cursor at the last of them (one statement). Of a topic's subscriber,
        only the topic's events: the others reach it only through the feed, which the cursor keeps it from
        reading twice, and it has nothing to do with them (its inbox would grow by every event of the source)."""
        if not events:
            return
        conn.execute(
            self._q_record,
            (self.name, [e.event_id for e in events if self._in_topic(source, e)], source, self.name, source,
             *events[-1].cursor),
        )

    def cursor(self, source: str, conn: psycopg.Connection | None = None) -> FeedCursor:
        """The feed position of the last event applied (or parked) from `source`."""
        if conn is None:
            with self.pool.connection() as own:
                row = own.execute(self._q_cursor, (self.name, source)).fetchone()
        else:
            row = conn.execute(self._q_cursor, (self.name, source)).fetchone()
        return FeedCursor(*row) if row else FEED_START

    def _apply_again(self, conn: psycopg.Connection, source: str, event: RecordedEvent) -> str | None:
        """A parked event through the handler once more (see ParkedMessages.replay_parked): why it failed, or None."""
        try:
            self._check_version(source, event)
            if self._interprets(source, event) or source in self.batch_handlers:
                return self._apply(conn, source, event)
            return None
        except _NoHandlerError as exc:
            return str(exc)


class _NoHandlerError(Exception):
    pass
