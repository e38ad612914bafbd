"""The relay (transactional outbox): publishes a service's committed events, in feed order, to its
topic exchange, with publisher confirms (a batch at a time: published whole, then one wait for its acks),
then advances a persisted checkpoint.

A crash between publishing and saving the checkpoint republishes a few events on restart;
consumers are idempotent, so duplicates change nothing. One replica relays at a time: the holder
of a session advisory lock; the others wait and take over when its connection dies. The leader,
the only writer of the checkpoint, reads it once when it takes the lead and then keeps it in memory;
it saves it without waiting for the disk (losing the last save only republishes a few events).

The leader wakes as soon as an append commits (a trigger NOTIFYs `fourgates_events_<schema>`,
migration 004) and otherwise polls; while committed events are held back by the feed's horizon (an
older transaction still open), it looks again every 20 ms.

Each event of a published topic (topics.py) carries the position of that topic's previous event; the
leader keeps the last position of each topic beside the checkpoint, in memory and saved with it.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from amqp import spec
from kombu import Connection, Exchange, Producer
from psycopg import sql
from psycopg.types.json import Jsonb

import services.backbone.cooperative  # noqa: F401  (psycopg must yield to eventlet before connecting)
from services.backbone.envelope import FEED_START, FeedCursor, RecordedEvent, to_cloudevent
from services.backbone.metrics import EVENTS_PUBLISHED
from services.backbone.store import EventStore
from services.backbone.topics import Topic, format_previous

log = logging.getLogger(__name__)


def events_exchange(service: str) -> Exchange:
    """The topic exchange `<service>.events`, declared exactly as nameko's EventDispatcher does."""
    return Exchange(f"{service}.events", type="topic", durable=True, delivery_mode=2)


class BatchConfirms:
    """Publisher confirms for a batch at a time, on a channel of its own: every event of the batch is published,
    then one wait covers the broker's acknowledgements of all of them (kombu's `confirm_publish` waits a round
    trip after each message). A refusal (nack) or no answer within `timeout` raises: the relay starts again
    from its checkpoint, and consumers skip what they already have."""

    def __init__(self, channel: Any, timeout: float = 30.0) -> None:
        self.channel, self.timeout = channel, timeout
        self.sent = 0  # on a channel in confirm mode the broker numbers the messages published 1, 2, ...
        self.unconfirmed: set[int] = set()
        self.refused = 0
        channel.events["basic_ack"].add(self._ack)
        channel.events["basic_nack"].add(self._nack)
        channel.confirm_select()

    def published(self) -> None:
        self.sent += 1
        self.unconfirmed.add(self.sent)

    def _settle(self, tag: int, multiple: bool) -> int:
        """Marks the message `tag` (with `multiple`, every one up to it) confirmed; returns how many that was."""
        before = len(self.unconfirmed)
        if multiple:
            self.unconfirmed = {t for t in self.unconfirmed if t > tag}
        else:
            self.unconfirmed.discard(tag)
        return before - len(self.unconfirmed)

    def _ack(self, tag: int, multiple: bool) -> None:
        self._settle(tag, multiple)

    def _nack(self, tag: int, multiple: bool) -> None:
        # one basic.nack may refuse several messages at once (multiple=True): count the messages, not the frames
        self.refused += self._settle(tag, multiple)

    def wait(self) -> None:
        """Until the broker has confirmed every message published so far."""
        deadline = time.monotonic() + self.timeout
        while self.unconfirmed:
            if (left := deadline - time.monotonic()) <= 0:
                raise TimeoutError(f"{len(self.unconfirmed)} message(s) not confirmed by the broker in {self.timeout:.0f}s")
            self.channel.wait([spec.Basic.Ack, spec.Basic.Nack], timeout=left)
        if self.refused:
            refused, self.refused = self.refused, 0
            raise RuntimeError(f"the broker refused {refused} message(s) (basic.nack)")


class Relay:
    """Moves events from one service's log to its exchange. `run` loops until `stop` is set."""

    def __init__(
        self, store: EventStore, conninfo: str, amqp_uri: str, service: str,
        batch_size: int = 200, poll_seconds: float = 0.2,
        on_published: Callable[[int, FeedCursor], None] | None = None, topics: Sequence[Topic] = (),
    ) -> None:
        self.store, self.conninfo, self.amqp_uri, self.service = store, conninfo, amqp_uri, service
        self.batch_size, self.poll_seconds = batch_size, poll_seconds
        self.horizon_retry_seconds = 0.02
        self.on_published = on_published
        self.stop = threading.Event()
        self.is_leader = False
        self._ident = sql.Identifier(store.schema)
        self._cursor: FeedCursor | None = None  # the checkpoint, kept in memory while this relay leads
        if foreign := [st.name for st in topics if st.source != service]:
            raise ValueError(f"relay {service}: topics {foreign} are another service's")
        self.topics = tuple(topics)
        # with the checkpoint: the position of each topic's last event published (None: not read yet)
        self._topic_last: dict[str, FeedCursor] | None = None
        self._topics_of: dict[str, list[str]] = {}
        for st in self.topics:
            for type_ in st.types:
                self._topics_of.setdefault(type_, []).append(st.name)
        # ORDER BY ... LIMIT 1, not EXISTS: for a prepared (generic) plan, EXISTS over a row comparison is a
        # sequential scan of the whole log when nothing follows the checkpoint -- the relay's idle case
        self._after = sql.SQL("SELECT 1 FROM {}.events WHERE (era, tx_id, position) > (%s, %s::text::xid8, %s)"
                              " ORDER BY era, tx_id, position LIMIT 1").format(self._ident).as_string(None)

    def run(self) -> None:
        """Relay forever: become leader, publish, and on any failure back off and start again."""
        while not self.stop.is_set():
            try:
                self._lead_and_publish()
            except Exception as exc:  # noqa: BLE001  (broker or database away: retry, never die)
                self.is_leader, self._cursor, self._topic_last = False, None, None
                log.warning("relay %s: %s; retrying in 1s", self.service, exc)
                self.stop.wait(1.0)

    def _lead_and_publish(self) -> None:
        # One connection, outside any transaction, for everything the leader does: it holds the lead (a
        # session lock: a dead connection means another replica may lead, and any statement here fails),
        # listens for appends, reads the feed and saves the checkpoint -- one round trip per statement,
        # without a pooled checkout, BEGIN and COMMIT around each.
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            while not self._try_lead(conn):
                if self.stop.wait(self.poll_seconds * 5):
                    return
            self.is_leader, self._cursor = True, self.checkpoint()
            self._topic_last = self._topic_positions(self._cursor)
            conn.execute("SET synchronous_commit = off")  # its commits are checkpoint saves: a lost one only republishes
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            with Connection(self.amqp_uri) as amqp:
                channel = amqp.channel()
                producer = Producer(channel, exchange=events_exchange(self.service), serializer="cloudevents")
                producer.declare()
                confirms = BatchConfirms(channel)
                while not self.stop.is_set():
                    if self.publish_batch(producer, conn, confirms) == self.batch_size:
                        continue  # a full batch: more may follow at once
                    if self._held_back(conn):
                        # committed, yet not readable: an older transaction still open holds the feed's
                        # horizon back for a moment; look again soon rather than at the next poll
                        self.stop.wait(self.horizon_retry_seconds)
                    else:
                        # the feed is read to its end: wait for the next append's notification (one that
                        # committed after the read has already arrived) or the poll interval
                        self._await_append(conn)

    @property
    def channel(self) -> str:
        return f"fourgates_events_{self.store.schema}"

    def _await_append(self, conn: psycopg.Connection) -> None:
        """Wait for an append to commit (its notification), at most one poll interval."""
        if any(True for _ in conn.notifies(timeout=self.poll_seconds, stop_after=1)):
            for _ in conn.notifies(timeout=0):  # the commits notified meanwhile are covered by the next read
                pass

    def _held_back(self, conn: psycopg.Connection) -> bool:
        """Are there events after the checkpoint that the feed's horizon does not show yet?"""
        return conn.execute(self._after, tuple(self._position())).fetchone() is not None

    def _try_lead(self, conn: psycopg.Connection) -> bool:
        row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (f"relay:{self.store.schema}",)).fetchone()
        return bool(row and row[0])

    def publish_batch(self, producer: Producer, conn: psycopg.Connection | None = None,
                      confirms: BatchConfirms | None = None) -> int:
        """Publish the next batch after the checkpoint, confirmed, then save the checkpoint (on `conn`, an
        autocommit connection, if given; else in pooled transactions). With `confirms` (the producer's channel's),
        the batch is confirmed as a whole; else the producer's channel must confirm each publish itself."""
        checkpoint = self._position()
        # the leader knows each topic's place; a relay that does not lead reads it at the checkpoint
        topic_last = (dict(self._topic_last) if self._cursor is not None and self._topic_last is not None
                       else self._topic_positions(checkpoint))
        events = self.store.read_feed(checkpoint, self.batch_size, conn=conn)
        previous: FeedCursor | None = checkpoint if checkpoint != FEED_START else None
        for event in events:
            in_topics = self._topics_of.get(event.type, ())
            self._publish(producer, event, previous, format_previous({name: topic_last[name] for name in in_topics}),
                          retry=confirms is None)  # a reconnection would lose the batch's confirms: start again
            if confirms is not None:
                confirms.published()
            previous = event.cursor
            for name in in_topics:
                topic_last[name] = event.cursor
        if events and confirms is not None:
            confirms.wait()
        if events:
            self._save(events[-1].cursor, len(events), topic_last, conn)
            EVENTS_PUBLISHED.labels(self.service).inc(len(events))
            if self.on_published:
                self.on_published(len(events), events[-1].cursor)
        return len(events)

    def _publish(self, producer: Producer, event: RecordedEvent, previous: FeedCursor | None, in_topics: str,
                 retry: bool = True) -> None:
        producer.publish(
            to_cloudevent(self.store.revealed(event), previous, in_topics),
            routing_key=event.type,
            delivery_mode=2,
            headers={"nameko.correlation_id": event.metadata.correlation_id},
            retry=retry,
            retry_policy={"max_retries": 3},
        )

    def _position(self) -> FeedCursor:
        """Where publishing goes on from: the leader's own copy of the checkpoint, else the saved one."""
        return self._cursor if self._cursor is not None else self.checkpoint()

    def checkpoint(self) -> FeedCursor:
        """The saved checkpoint (any replica can read it)."""
        with self.store.transaction() as conn:
            row = conn.execute(
                sql.SQL("SELECT era, tx_id, position FROM {}.relay_checkpoint WHERE relay = 'main'").format(self._ident)
            ).fetchone()
        return FeedCursor(*row) if row else FEED_START

    def _topic_positions(self, checkpoint: FeedCursor) -> dict[str, FeedCursor]:
        """Each topic's last event at or before the checkpoint: as saved with it, else found in the log."""
        if not self.topics:
            return {}
        with self.store.transaction() as conn:
            row = conn.execute(sql.SQL("SELECT topics FROM {}.relay_checkpoint WHERE relay = 'main'"
                                       " AND (era, tx_id, position) = (%s, %s, %s)").format(self._ident),
                               tuple(checkpoint)).fetchone()
            saved: dict[str, Any] = (row[0] if row else None) or {}
            positions: dict[str, FeedCursor] = {}
            for st in self.topics:
                entry = saved.get(st.name)
                if entry is not None and sorted(entry.get("types", ())) == sorted(st.types):
                    positions[st.name] = FeedCursor.parse(entry["last"])
                    continue
                # ordered by the table's columns (see store.py) so that the feed-order index serves it, backwards
                found = conn.execute(sql.SQL(
                    "SELECT era, tx_id::text::bigint, position FROM {}.events WHERE type = ANY(%s)"
                    " AND (era, tx_id, position) <= (%s, %s::text::xid8, %s)"
                    " ORDER BY events.era DESC, events.tx_id DESC, events.position DESC LIMIT 1").format(self._ident),
                    (sorted(st.types), *checkpoint)).fetchone()
                positions[st.name] = FeedCursor(*found) if found else FEED_START
        return positions

    def _saved_topics(self, topic_last: dict[str, FeedCursor]) -> Jsonb | None:
        if not self.topics:
            return None
        return Jsonb({st.name: {"types": sorted(st.types), "last": topic_last[st.name].token} for st in self.topics})

    def _save(self, cursor: FeedCursor, count: int, topic_last: dict[str, FeedCursor],
              conn: psycopg.Connection | None = None) -> None:
        query = sql.SQL(
            "INSERT INTO {}.relay_checkpoint (relay, era, tx_id, position, published, topics)"
            " VALUES ('main', %s, %s, %s, %s, %s)"
            " ON CONFLICT (relay) DO UPDATE SET era = EXCLUDED.era, tx_id = EXCLUDED.tx_id,"
            " position = EXCLUDED.position, published = relay_checkpoint.published + EXCLUDED.published,"
            " topics = EXCLUDED.topics, updated_at = now()").format(self._ident)
        params = (*cursor, count, self._saved_topics(topic_last))
        if conn is not None:
            conn.execute(query, params)  # the leader's connection commits without waiting for the disk
        else:
            with self.store.transaction() as own:
                own.execute("SET LOCAL synchronous_commit = off")  # a lost save only republishes: no need to wait
                own.execute(query, params)
        if self._cursor is not None:  # leading: the checkpoint and the topics' places are kept in memory
            self._cursor, self._topic_last = cursor, topic_last
