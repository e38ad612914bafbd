"""The event store: one `events` table in the service's own PostgreSQL schema (architecture §4).

Writers are not serialised against each other: each append takes only a per-stream advisory lock.
Readers of the feed see only rows whose transaction id is below the oldest transaction still
running (`pg_snapshot_xmin`), so a row can never commit behind a reader's cursor.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

import services.backbone.cooperative  # noqa: F401  (psycopg must yield to eventlet before connecting)
from services.backbone.envelope import FEED_START, FeedCursor, Metadata, NewEvent, RecordedEvent
from services.backbone.errors import AppendNotFirstWriteError, ConcurrencyConflictError, IdempotencyMismatchError
from services.backbone.metrics import EVENTS_APPENDED

ANY_VERSION = None
NO_STREAM = 0

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
        if self.vault is None:
            return event
        revealed = event.with_data(self.vault.reveal(event.data), event.schema_version)
        reason = self.vault.reveal_text(event.metadata.reason)
        return revealed if reason == event.metadata.reason else replace(revealed, metadata=replace(event.metadata, reason=reason))

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
            # and tells whether an earlier write already fixed this transaction's id.
            assigned = c.execute(self._q.lock_all, ([f"{self.schema}:{s}" for s in streams],)).fetchone()
            # Read after the locks are held: a read in the same statement could see a pre-lock snapshot.
            existing, versions = c.execute(self._q.state, (ids, streams)).fetchone()  # type: ignore[misc]
            if existing:
                return self._existing(c, ids, existing)
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
        with self._using(conn) as c:
            rows = c.execute(self._q.by_ids, (list(event_ids),)).fetchall()
        return [_row_to_event(r) for r in rows]

    def _insert(self, conn: psycopg.Connection, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Insert the rows with one constant statement (parsed and prepared once); results in row order."""
        columns = [list(column) for column in zip(*rows, strict=True)]
        with conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(self._q.insert, columns)
            generated = {(stream, version): rest for stream, version, *rest in cur.fetchall()}
        return [generated[(row[0], row[1])] for row in rows]

    def _existing(self, conn: psycopg.Connection, ids: list[Any], found: int) -> list[RecordedEvent]:
        if found != len(ids):
            raise IdempotencyMismatchError(
                f"{found} of {len(ids)} events of this append are already stored: the retry differs from the original"
            )
        rows = conn.execute(self._q.by_ids, (ids,)).fetchall()
        return [_row_to_event(r) for r in rows]

    def read_stream(
        self, stream: str, until: datetime | None = None, conn: psycopg.Connection | None = None
    ) -> list[RecordedEvent]:
        """Every event of one stream in version order (recorded at or before `until`, if given), personal fields revealed."""
        with self._using(conn) as c:
            rows = c.execute(self._q.stream, (stream, until, until)).fetchall()
        return [self.revealed(_row_to_event(r)) for r in rows]

    def stream_version(self, stream: str, conn: psycopg.Connection | None = None) -> int:
        with self._using(conn) as c:
            row = c.execute(self._q.version, (stream,)).fetchone()
        return int(row[0]) if row else 0

    def read_feed(
        self, after: FeedCursor = FEED_START, limit: int = 500, conn: psycopg.Connection | None = None
    ) -> list[RecordedEvent]:
        """Up to `limit` committed events after `after`, in feed order. Never skips, never reorders a stream."""
        with self._using(conn) as c:
            rows = c.execute(self._q.feed, (*after, limit)).fetchall()
        return [_row_to_event(r) for r in rows]

    def count_after(self, after: FeedCursor, conn: psycopg.Connection | None = None) -> int:
        """How many committed events lie after `after` in the feed (relay and consumer lag)."""
        with self._using(conn) as c:
            row = c.execute(self._q.count_after, tuple(after)).fetchone()
        return int(row[0]) if row else 0

    def read_streams_prefix(self, prefix: str, conn: psycopg.Connection | None = None) -> list[RecordedEvent]:
        """Every event of the streams whose name starts with `prefix`, in stream then version order, revealed."""
        with self._using(conn) as c:
            rows = c.execute(self._q.prefix, (prefix + "%",)).fetchall()
        return [self.revealed(_row_to_event(r)) for r in rows]


class _Queries:
    """The SQL of one schema, composed once."""

    def __init__(self, schema: str) -> None:
        s = sql.Identifier(schema)
        cols = sql.SQL(_COLUMNS)
        # The advisory lock keeps two writers of one stream in commit order = version order;
        # pg_current_xact_id_if_assigned tells whether an earlier write already fixed our tx id.
        self.lock_all = sql.SQL(
            "SELECT pg_current_xact_id_if_assigned()::text,"
            " (SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM unnest(%s::text[]) AS k)"
        )
        self.state = sql.SQL(
            "SELECT (SELECT count(*) FROM {s}.events WHERE event_id = ANY(%s)),"
            " (SELECT array_agg(coalesce((SELECT max(version) FROM {s}.events e WHERE e.stream = n.name), 0)"
            "  ORDER BY n.ord) FROM unnest(%s::text[]) WITH ORDINALITY AS n(name, ord))"
        ).format(s=s)
        # One statement for any number of rows (arrays, one per column): psycopg parses and prepares it once.
        self.insert = sql.SQL(
            "INSERT INTO {s}.events (stream, version, event_id, type, schema_version, data, metadata)"
            " SELECT * FROM unnest(%b::text[], %b::int[], %b::uuid[], %b::text[], %b::int[],"
            " %b::text[]::jsonb[], %b::text[]::jsonb[])"
            " RETURNING stream, version, era, tx_id::text::bigint, position, recorded_at"
        ).format(s=s).as_string(None)
        self.by_ids = sql.SQL(
            "SELECT {cols} FROM {s}.events WHERE event_id = ANY(%s) ORDER BY events.era, events.tx_id, events.position"
        ).format(
            s=s, cols=cols
        )
        self.stream = sql.SQL(
            "SELECT {cols} FROM {s}.events WHERE stream = %s"
            " AND (%s::timestamptz IS NULL OR recorded_at <= %s::timestamptz) ORDER BY version"
        ).format(s=s, cols=cols)
        self.version = sql.SQL("SELECT coalesce(max(version), 0) FROM {s}.events WHERE stream = %s").format(s=s)
        self.feed = sql.SQL(
            "SELECT {cols} FROM {s}.events"
            " WHERE (era, tx_id, position) > (%s, %s::text::xid8, %s)"
            " AND (era < (SELECT era FROM {s}.feed_era)"
            "      OR tx_id < pg_snapshot_xmin(pg_current_snapshot()))"
            " ORDER BY events.era, events.tx_id, events.position LIMIT %s"
        ).format(s=s, cols=cols)
        self.count_after = sql.SQL(
            "SELECT count(*) FROM {s}.events WHERE (era, tx_id, position) > (%s, %s::text::xid8, %s)"
        ).format(s=s)
        self.prefix = sql.SQL("SELECT {cols} FROM {s}.events WHERE stream LIKE %s ORDER BY stream, version").format(
            s=s, cols=cols
        )
