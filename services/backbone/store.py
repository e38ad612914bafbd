"""The event store: one `events` table in the service's own PostgreSQL schema (architecture §4).

Writers are not serialised against each other: each append takes a per-stream advisory lock (and a
shared lock that marks it as an appender of this log). Readers of the feed see only rows whose
transaction id is below the feed's horizon, the oldest appender of this log still running
(`feed_horizon`, migration 005), so a row can never commit behind a reader's cursor.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import psycopg
from psycopg import pq, sql
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

import services.backbone.cooperative  # noqa: F401  (psycopg must yield to eventlet before connecting)
from services.backbone.envelope import FEED_START, AlreadyStored, FeedCursor, Metadata, NewEvent, RecordedEvent
from services.backbone.errors import AppendNotFirstWriteError, ConcurrencyConflictError, IdempotencyMismatchError
from services.backbone.metrics import EVENTS_APPENDED

ANY_VERSION = None
NO_STREAM = 0
# `execute(..., prepare=UNPREPARED)`: planned afresh at each execution, with the values given and the table's
# size now. For a statement that matches a table's growing rows by an array of keys (`= ANY(...)`, a join
# with `unnest(...)`): psycopg prepares a statement at its fifth run, and PostgreSQL then keeps the generic
# plan it chose while the table was small -- a scan of every row of the key's prefix, say -- until the table
# is next ANALYZEd. Without autovacuum (off on the machines measured here) that is never: the reporting
# consumer's inbox check took 2.6 ms and its read models' updates 3.6 ms by the end of a 3-minute benchmark,
# growing with the tables, against 0.03-0.07 ms planned with the values (docs/bench-e2e.md).
UNPREPARED = False
# The first key of every appender's shared advisory lock (the second is the events table's oid);
# migration 005's feed_horizon() looks for exactly this key.
APPEND_LOCK_CLASS = 1178944340

# tx_id is aliased: an output column named tx_id would make `ORDER BY tx_id` sort by the cast text
# value instead of using the (era, tx_id, position) index.
_COLUMNS = ("event_id, stream, version, type, schema_version, data, metadata, era, tx_id::text::bigint AS tx_bigint,"
            " position, recorded_at")


def _row_to_event(row: tuple[Any, ...]) -> RecordedEvent:
    event_id, stream, version, type_, schema_version, data, metadata, era, tx_id, position, recorded_at = row
    return RecordedEvent(
        event_id=event_id,
        stream=stream,
        version=version,
        type=type_,
        schema_version=schema_version,
        data=data,
        metadata=Metadata.from_json(metadata),
        cursor=FeedCursor(era, tx_id, position),
        recorded_at=recorded_at,
    )


def _uuid_array(ids: Sequence[Any]) -> str:
    """A uuid[] literal: one text parameter instead of psycopg adapting each element (a command looks up 64)."""
    return "{" + ",".join(str(uuid.UUID(str(i))) if not isinstance(i, uuid.UUID) else str(i) for i in ids) + "}"


class EventStore:
    """Append to and read from one service's event log. Every method may join a caller's transaction."""

    def __init__(self, pool: ConnectionPool, schema: str, vault: Any = None) -> None:
        self.pool = pool
        self.schema = schema
        self.vault = vault  # a Vault when the service stores personal data; None otherwise
        self._q = _Queries(schema)

    def revealed(self, event: RecordedEvent) -> RecordedEvent:
        """The event with its personal fields decrypted (or shown erased) — for readers, never for the audit chain.

        Streams are read revealed; the feed and reads by id stay as stored (ciphertext), because the
        audit chain hashes them; the relay and the feed endpoints reveal what they send.
        """
        return self._reveal(event, None)

    def _reveal(self, event: RecordedEvent, conn: psycopg.Connection | None) -> RecordedEvent:
        if self.vault is None:
            return event
        data = self.vault.reveal(event.data, conn)
        reason = self.vault.reveal_text(event.metadata.reason, conn)
        if data is event.data and reason == event.metadata.reason:
            return event  # nothing sealed: most events of a stream
        revealed = event.with_data(data, event.schema_version)
        return revealed if reason == event.metadata.reason else replace(revealed, metadata=replace(event.metadata, reason=reason))

    def _revealed_all(self, conn: psycopg.Connection, rows: list[tuple[Any, ...]]) -> list[RecordedEvent]:
        """Rows as events with personal fields revealed; the keys they need are read in one query on `conn`."""
        events = [_row_to_event(r) for r in rows]
        if self.vault is None:
            return events
        self.vault.prefetch(conn, [e.data for e in events] + [e.metadata.reason for e in events])
        return [self._reveal(e, conn) for e in events]

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A pooled connection inside one transaction: commit on success, roll back on error."""
        with self.pool.connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def _using(self, conn: psycopg.Connection | None) -> Iterator[psycopg.Connection]:
        if conn is not None:
            yield conn
        else:
            with self.transaction() as own:
                yield own

    @contextmanager
    def _reading(self, conn: psycopg.Connection | None) -> Iterator[psycopg.Connection]:
        """`conn`, or a pooled connection in autocommit for reads: each statement its own snapshot, as in a
        READ COMMITTED transaction, without the round trips of BEGIN and COMMIT (a one-statement read cost
        240 µs in a transaction, 90 µs without, 110 against 43 µs of the client's CPU)."""
        if conn is not None:
            yield conn
            return
        with self.pool.connection() as own:
            own.autocommit = True
            try:
                yield own
            finally:
                if own.pgconn.transaction_status == pq.TransactionStatus.IDLE:
                    own.autocommit = False
                else:
                    own.close()  # left inside a transaction (a BEGIN of its own?): the pool discards it

    def append(
        self,
        stream: str,
        events: Sequence[NewEvent],
        expected_version: int | None = ANY_VERSION,
        conn: psycopg.Connection | None = None,
    ) -> list[RecordedEvent]:
        """Append events atomically at the stream's next versions; returns them as recorded.

        Idempotent by event id: if every event is already stored, returns the stored ones and
        writes nothing. Raises ConcurrencyConflictError when the stream is not at
        `expected_version` (None accepts any). Must be the first write of its transaction.
        """
        return self.append_streams([(stream, events, expected_version)], conn=conn)

    def append_streams(
        self, batches: Sequence[tuple[str, Sequence[NewEvent], int | None]], conn: psycopg.Connection | None = None
    ) -> list[RecordedEvent]:
        """Append to several streams in one transaction (all or nothing), each at its expected version.

        Every stream's lock is taken before the first insert: the transaction id is fixed by that
        insert, and a lock taken later could let another writer's rows for that stream commit
        first with a higher id, reordering the stream in the feed.
        """
        batches = [b for b in batches if b[1]]
        if not batches:
            return []
        streams = sorted({b[0] for b in batches})
        ids = [e.event_id for _, events, _ in batches for e in events]
        with self._using(conn) as c:
            # One statement takes every lock (in name order, so two multi-stream writers cannot deadlock)
            # and tells whether an earlier write already fixed this transaction's id. The state is read by
            # the next statement, after the locks are held (a read in the same statement could see a
            # pre-lock snapshot); the two travel together, in one round trip.
            with c.pipeline():
                locked = c.execute(self._q.lock_all, ([f"{self.schema}:{s}" for s in streams],))
                state = c.execute(self._q.state, (ids, streams))
            assigned = locked.fetchone()
            existing, versions = state.fetchone()  # type: ignore[misc]
            if existing:
                return self._existing(c, ids, existing, batches[0][1][0].metadata.actor.principal)
            if assigned and assigned[0] is not None:
                raise AppendNotFirstWriteError(
                    "append must be the first write of its transaction, or the feed could reorder a stream"
                )
            current = dict(zip(streams, versions or [0] * len(streams), strict=True))
            planned: list[tuple[str, int, NewEvent]] = []
            for stream, events, expected in batches:
                if expected is not None and current[stream] != expected:
                    raise ConcurrencyConflictError(stream, expected, current[stream])
                planned += [(stream, current[stream] + i + 1, e) for i, e in enumerate(events)]
                current[stream] += len(events)
            stored = self._insert(c, [self._row(stream, version, e) for stream, version, e in planned])
        EVENTS_APPENDED.labels(self.schema).inc(len(planned))
        return [RecordedEvent(e.event_id, stream, version, e.type, e.schema_version, e.data, e.metadata,
                              FeedCursor(era, tx_id, position), recorded_at)
                for (stream, version, e), (era, tx_id, position, recorded_at) in zip(planned, stored, strict=True)]

    @staticmethod
    def _row(stream: str, version: int, e: NewEvent) -> tuple[Any, ...]:
        return (stream, version, e.event_id, e.type, e.schema_version,
                json.dumps(e.data, ensure_ascii=False), json.dumps(e.metadata.to_json(), ensure_ascii=False))

    def read_events(self, event_ids: Sequence[Any], conn: psycopg.Connection | None = None) -> list[RecordedEvent]:
        """The stored events among `event_ids`, in feed order."""
        with self._reading(conn) as c:
            rows = c.execute(self._q.by_ids, (_uuid_array(event_ids),)).fetchall()
        return [_row_to_event(r) for r in rows]

    def _insert(self, conn: psycopg.Connection, rows: list[tuple[Any, ...]]) -> list[list[Any]]:
        """Insert the rows with one constant statement (parsed and prepared once); results in row order."""
        columns = [list(column) for column in zip(*rows, strict=True)]
        with conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(self._q.insert, columns)
            generated = {(stream, version): rest for stream, version, *rest in cur.fetchall()}
        return [generated[(row[0], row[1])] for row in rows]

    def _existing(self, conn: psycopg.Connection, ids: list[Any], found: int, principal: str) -> AlreadyStored:
        """The stored events of a retried append: the same ids, appended by the same principal."""
        if found != len(ids):
            raise IdempotencyMismatchError(
                f"{found} of {len(ids)} events of this append are already stored: the retry differs from the original"
            )
        stored = [_row_to_event(r) for r in conn.execute(self._q.by_ids, (_uuid_array(ids),)).fetchall()]
        if stored[0].metadata.actor.principal != principal:
            raise IdempotencyMismatchError(
                "an earlier request with this Idempotency-Key came from another principal: use a new key")
        return AlreadyStored(stored)

    def read_stream(
        self, stream: str, until: datetime | None = None, conn: psycopg.Connection | None = None
    ) -> list[RecordedEvent]:
        """Every event of one stream in version order (recorded at or before `until`, if given), personal fields revealed."""
        with self._reading(conn) as c:
            rows = c.execute(self._q.stream, (stream, until, until)).fetchall()
            return self._revealed_all(c, rows)

    def read_streams(self, streams: Sequence[str], until: datetime | None = None,
                     conn: psycopg.Connection | None = None) -> list[RecordedEvent]:
        """Every event of the named streams (recorded at or before `until`, if given), in stream then version
        order, personal fields revealed: one query for a page of aggregates."""
        with self._reading(conn) as c:
            rows = c.execute(self._q.streams, (list(streams), until, until)).fetchall()
            return self._revealed_all(c, rows)

    def read_stream_after(self, stream: str, version: int, conn: psycopg.Connection | None = None) -> list[RecordedEvent]:
        """The stream's events after `version`, in version order, personal fields revealed (a cached fold's update)."""
        with self._reading(conn) as c:
            rows = c.execute(self._q.stream_after, (stream, version)).fetchall()
            return self._revealed_all(c, rows)

    def stream_version(self, stream: str, conn: psycopg.Connection | None = None) -> int:
        with self._reading(conn) as c:
            row = c.execute(self._q.version, (stream,)).fetchone()
        return int(row[0]) if row else 0

    def read_feed(
        self, after: FeedCursor = FEED_START, limit: int = 500, conn: psycopg.Connection | None = None
    ) -> list[RecordedEvent]:
        """Up to `limit` committed events after `after`, in feed order. Never skips, never reorders a stream."""
        with self._reading(conn) as c:
            rows = c.execute(self._q.feed, (*after, self.horizon(c), limit)).fetchall()
        return [_row_to_event(r) for r in rows]

    def predecessor(self, after: FeedCursor, conn: psycopg.Connection | None = None) -> FeedCursor | None:
        """The last event at or before `after` in feed order (None: none), which the first event read after
        `after` names as its `previoussequence` — the cursor a reader gave need not be an event's."""
        if after == FEED_START:
            return None
        with self._reading(conn) as c:
            row = c.execute(self._q.predecessor, tuple(after)).fetchone()
        return FeedCursor(int(row[0]), int(row[1]), int(row[2])) if row else None

    def horizon(self, conn: psycopg.Connection) -> int:
        """The feed's horizon now (a transaction id): read it in a statement of its own, *before* the
        statement that reads the feed, which then sees every row below it that will ever commit."""
        row = conn.execute(self._q.horizon).fetchone()
        assert row is not None
        return int(row[0])

    def backlog_after(self, after: FeedCursor, conn: psycopg.Connection | None = None) -> tuple[int, float]:
        """How many committed events lie after `after` in the feed, and the age in seconds of the oldest of them
        (0 when none): the relay's and the sequencer's lag. Not prepared: with the cursor as a parameter,
        PostgreSQL's generic plan scans the whole log (docs/bench-e2e.md, "The relay's idle check")."""
        with self._reading(conn) as c:
            row = c.execute(self._q.backlog_after, tuple(after), prepare=False).fetchone()
        return (int(row[0]), float(row[1])) if row else (0, 0.0)

    def stream_versions(self, prefix: str, conn: psycopg.Connection | None = None) -> dict[str, int]:
        """Each stream whose name starts with `prefix` -> its current version (one cheap aggregate, no event data)."""
        with self._reading(conn) as c:
            return dict(c.execute(self._q.versions, (prefix + "%",)).fetchall())

    def values_where(self, prefix: str, type_: str, field: str, key: str, value: str,
                     conn: psycopg.Connection | None = None) -> set[str]:
        """`data[field]` of each `type_` event in the streams starting with `prefix` whose `data[key]` is `value`.

        PostgreSQL filters the data as stored (not revealed, not upcast): for plain identifiers that no
        personal-data declaration seals and no schema version renames, e.g. the placements opened for a cadre."""
        with self._reading(conn) as c:
            rows = c.execute(self._q.values_where, (field, prefix + "%", type_, key, value)).fetchall()
        return {str(found) for (found,) in rows if found is not None}

    def opening_data(self, prefix: str, type_: str, fields: Sequence[str], until: datetime | None = None,
                     conn: psycopg.Connection | None = None) -> dict[str, dict[str, Any]]:
        """Each stream starting with `prefix` that has a `type_` event (recorded at or before `until`) -> the
        named fields of that event's data, in stream order; for the first event of each stream (an opening
        event). As stored (not revealed, not upcast): for identifiers no personal-data declaration seals and
        no schema version renames, e.g. the units an assessment was opened for, to page a list by them."""
        query = sql.SQL("SELECT stream, {} FROM {}.events WHERE stream LIKE %s AND type = %s AND version = 1"
                        " AND (%s::timestamptz IS NULL OR recorded_at <= %s::timestamptz) ORDER BY stream").format(
            sql.SQL(", ").join(sql.SQL("data->{}").format(sql.Literal(f)) for f in fields), sql.Identifier(self.schema))
        with self._reading(conn) as c:
            rows = c.execute(query, (prefix + "%", type_, until, until)).fetchall()
        return {stream: dict(zip(fields, values, strict=True)) for stream, *values in rows}

    def read_streams_prefix(self, prefix: str, conn: psycopg.Connection | None = None) -> list[RecordedEvent]:
        """Every event of the streams whose name starts with `prefix`, in stream then version order, revealed."""
        with self._reading(conn) as c:
            rows = c.execute(self._q.prefix, (prefix + "%",)).fetchall()
            return self._revealed_all(c, rows)


class _Queries:
    """The SQL of one schema, composed once into plain strings: psycopg caches the conversion of a string
    query, but would compose (and escape the identifiers of) a `sql.Composed` again at every execute."""

    def __init__(self, schema: str) -> None:
        s = sql.Identifier(schema)
        cols = sql.SQL(_COLUMNS)
        # The advisory lock keeps two writers of one stream in commit order = version order;
        # pg_current_xact_id_if_assigned tells whether an earlier write already fixed our tx id; the
        # shared lock on the events table's key marks an appender of this log for feed_horizon().
        self.lock_all = sql.SQL(
            "SELECT pg_current_xact_id_if_assigned()::text,"
            " pg_advisory_xact_lock_shared({append_class}, {events}::regclass::oid::int)::text,"
            " (SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM unnest(%s::text[]) AS k)"
        ).format(append_class=sql.Literal(APPEND_LOCK_CLASS),
                 events=sql.Literal(sql.Identifier(schema, "events").as_string(None))).as_string(None)
        self.state = sql.SQL(
            "SELECT (SELECT count(*) FROM {s}.events WHERE event_id = ANY(%s)),"
            " (SELECT array_agg(coalesce((SELECT max(version) FROM {s}.events e WHERE e.stream = n.name), 0)"
            "  ORDER BY n.ord) FROM unnest(%s::text[]) WITH ORDINALITY AS n(name, ord))"
        ).format(s=s).as_string(None)
        # One statement for any number of rows (arrays, one per column): psycopg parses and prepares it once.
        self.insert = sql.SQL(
            "INSERT INTO {s}.events (stream, version, event_id, type, schema_version, data, metadata)"
            " SELECT * FROM unnest(%b::text[], %b::int[], %b::uuid[], %b::text[], %b::int[],"
            " %b::text[]::jsonb[], %b::text[]::jsonb[])"
            " RETURNING stream, version, era, tx_id::text::bigint, position, recorded_at"
        ).format(s=s).as_string(None)
        self.by_ids = sql.SQL(
            "SELECT {cols} FROM {s}.events WHERE event_id = ANY(%s::uuid[])"
            " ORDER BY events.era, events.tx_id, events.position"
        ).format(s=s, cols=cols).as_string(None)
        self.streams = sql.SQL(
            "SELECT {cols} FROM {s}.events WHERE stream = ANY(%s::text[])"
            " AND (%s::timestamptz IS NULL OR recorded_at <= %s::timestamptz) ORDER BY stream, version"
        ).format(s=s, cols=cols).as_string(None)
        self.stream = sql.SQL(
            "SELECT {cols} FROM {s}.events WHERE stream = %s"
            " AND (%s::timestamptz IS NULL OR recorded_at <= %s::timestamptz) ORDER BY version"
        ).format(s=s, cols=cols).as_string(None)
        self.stream_after = sql.SQL("SELECT {cols} FROM {s}.events WHERE stream = %s AND version > %s ORDER BY version"
                                    ).format(s=s, cols=cols).as_string(None)
        self.version = sql.SQL("SELECT coalesce(max(version), 0) FROM {s}.events WHERE stream = %s").format(s=s).as_string(None)
        self.feed = sql.SQL(
            "SELECT {cols} FROM {s}.events"
            " WHERE (era, tx_id, position) > (%s, %s::text::xid8, %s)"
            " AND (era < (SELECT era FROM {s}.feed_era) OR tx_id < %s::text::xid8)"
            " ORDER BY events.era, events.tx_id, events.position LIMIT %s"
        ).format(s=s, cols=cols).as_string(None)
        self.predecessor = sql.SQL(
            "SELECT era, tx_id::text::bigint, position FROM {s}.events WHERE (era, tx_id, position) <= (%s, %s::text::xid8, %s)"
            # Ordered by the table's columns (not the output's tx_id, a cast), so that the feed-order index serves it.
            " ORDER BY events.era DESC, events.tx_id DESC, events.position DESC LIMIT 1").format(s=s).as_string(None)
        self.horizon = sql.SQL("SELECT {s}.feed_horizon({events}::regclass)::text::bigint").format(
            s=s, events=sql.Literal(sql.Identifier(schema, "events").as_string(None))).as_string(None)
        self.backlog_after = sql.SQL(
            "SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(recorded_at)), 0)::float8"
            " FROM {s}.events WHERE (era, tx_id, position) > (%s, %s::text::xid8, %s)"
        ).format(s=s).as_string(None)
        self.versions = sql.SQL("SELECT stream, max(version) FROM {s}.events WHERE stream LIKE %s GROUP BY stream"
                                ).format(s=s).as_string(None)
        self.values_where = sql.SQL("SELECT DISTINCT data->>%s FROM {s}.events WHERE stream LIKE %s AND type = %s"
                                    " AND data->>%s = %s").format(s=s).as_string(None)
        self.prefix = sql.SQL("SELECT {cols} FROM {s}.events WHERE stream LIKE %s ORDER BY stream, version").format(
            s=s, cols=cols
        ).as_string(None)
