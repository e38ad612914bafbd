"""Rebuild every read model from the sources' feeds into a fresh schema, then switch it in.

The live schema keeps answering (and its consumer keeps applying) while the rebuild reads the three
feeds from their start, in batches of thousands of events per transaction. The switch pauses the live
consumer (by taking its per-source locks), applies what arrived meanwhile, and swaps the schema names in
one transaction: readers see the old tables or the new ones, never a mix, and no event is lost between.
"""
from __future__ import annotations

import gc
import json
import multiprocessing
import queue
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

import services.backbone.cooperative  # noqa: F401  (psycopg must yield to eventlet before connecting)
from services.backbone.envelope import FEED_START, FeedCursor
from services.backbone.migrations import migrate
from services.reporting.feeds import BULK_PAGE, PAGE, FeedReader, Page, from_cloudevent, rpc_bulk_feeds, rpc_feeds
from services.reporting.model import SOURCES, SourceEvent
from services.reporting.readmodel import ReadModels

Progress = Callable[[str, int], None]
# What a resolved parked message keeps across a rebuild: the message, its error and who resolved it, how and why.
PARKED_COLUMNS = ("id", "consumer", "source", "event_id", "type", "body", "error", "parked_at", "recorded",
                  "resolved_at", "resolution", "resolved_by", "resolution_note")


class RebuildError(RuntimeError):
    """The rebuild could not read a source's feed, or its target schema is taken."""


def consumer_lock(schema: str, consumer: str, source: str) -> str:
    # The key IdempotentConsumer takes for each event it applies (services/backbone/consumer.py): holding it
    # pauses the live consumer of that source without stopping the service.
    return f"consumer:{schema}:{consumer}:{source}"


def new_schema_name(live: str = "reporting") -> str:
    return f"{live}_rebuild_{datetime.now(UTC):%Y%m%d%H%M%S}"


class Rebuild:
    """One rebuild into `target` from the feeds reachable with `feed_config` (nameko RPC settings); `live` is the
    schema the service reads, and `consumer` its consumer's name."""

    def __init__(self, conninfo: str, feed_config: dict[str, Any], target: str, live: str = "reporting",
                 consumer: str = "reporting", batch: int = 5000) -> None:
        self.conninfo, self.feed_config, self.target, self.live = conninfo, feed_config, target, live
        self.consumer, self.batch = consumer, batch
        self.models = ReadModels(target)
        self.pool = ConnectionPool(conninfo, min_size=1, max_size=2, open=True, name=f"rebuild-{target}")
        self._deferred: list[str] = []
        self._kept_below = 0  # parked ids below this one are the live schema's, kept by `keep_resolved`

    def close(self) -> None:
        self.pool.close()

    def create(self) -> None:
        """The target schema, migrated, with the timeline's indexes -- its primary key too -- left for after the
        load: built once from the sorted rows, they cost a fraction of keeping them row by row (the key on
        random event ids alone took a sixth of PostgreSQL's time per event)."""
        if self._schema_exists(self.target):
            raise RebuildError(f"schema {self.target} exists already; name another with --into, or drop it")
        migrate(self.conninfo, self.target, service="reporting")
        timeline = sql.SQL("{}.timeline").format(sql.Identifier(self.target))
        with self.pool.connection() as conn:
            key = conn.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                               " WHERE conrelid = %s::regclass AND contype = 'p'", (timeline.as_string(conn),)).fetchone()
            if key is None:
                raise RebuildError(f"{self.target}.timeline has no primary key: the reporting migrations did not run")
            indexes = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s"
                                   " AND tablename = 'timeline' AND indexname <> %s", (self.target, key[0])).fetchall()
            conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(timeline, sql.Identifier(key[0])))
            for name, _ in indexes:
                conn.execute(sql.SQL("DROP INDEX {}.{}").format(sql.Identifier(self.target), sql.Identifier(name)))
        self._deferred = [sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            timeline, sql.Identifier(key[0]), sql.SQL(key[1])).as_string(None)] + [d for _, d in indexes]

    def keep_resolved(self) -> None:
        """Copy the live schema's resolved parked messages, with their ids, into the target before the load, and
        start its ids after the live ones: the audit trail of who resolved what survives the switch.

        Open ones are not copied: the load applies their events again (and parks again what still fails).
        """
        if not self._schema_exists(self.live):
            return
        with self.pool.connection() as conn:
            row = conn.execute(sql.SQL("SELECT coalesce(max(id), 0) + 1 FROM {}.parked_messages").format(
                sql.Identifier(self.live))).fetchone()
            self._kept_below = int(row[0]) if row else 1
            copy_resolved(conn, self.live, self.target, sql.SQL("l.id < {}").format(self._kept_below))
            conn.execute(sql.SQL("ALTER TABLE {}.parked_messages ALTER COLUMN id RESTART WITH {}").format(
                sql.Identifier(self.target), self._kept_below))

    def estimate(self) -> dict[str, int]:
        """Roughly how many events each source has: what the live timeline holds (0 without a live schema)."""
        if not self._schema_exists(self.live):
            return dict.fromkeys(SOURCES, 0)
        with self.pool.connection() as conn:
            rows = conn.execute(sql.SQL("SELECT source, count(*) FROM {}.timeline GROUP BY source")
                                .format(sql.Identifier(self.live))).fetchall()
        return {**dict.fromkeys(SOURCES, 0), **{source: int(n) for source, n in rows}}

    def load(self, progress: Progress) -> None:
        """Read every source's feed to its end and project it, one process per source (their tables are apart).

        Each process holds its source's batch and a few pages read ahead, never more: memory stays flat.
        """
        context = multiprocessing.get_context("spawn")  # a clean interpreter: no eventlet, no inherited pools
        reports: multiprocessing.Queue[tuple[str, int | str | None]] = context.Queue()
        workers = [context.Process(target=load_source, name=f"rebuild-{source}", daemon=True,
                                   args=(self.conninfo, self.feed_config, self.target, self.consumer, source, self.batch,
                                         reports)) for source in SOURCES]
        for worker in workers:
            worker.start()
        try:
            finished: set[str] = set()
            while len(finished) < len(workers):
                source, report = reports.get()
                if isinstance(report, str):
                    raise RebuildError(f"rebuilding from {source} failed: {report}")
                if report is None:
                    finished.add(source)
                else:
                    progress(source, report)
        finally:
            for worker in workers:
                worker.join(timeout=5)
                if worker.is_alive():
                    worker.terminate()

    def index(self) -> None:
        """Erase again what arrived from one source after another's erasure; create the deferred indexes; ANALYZE."""
        with self.pool.connection() as conn:
            erased = [cadre for (cadre,) in conn.execute(sql.SQL("SELECT cadre_id FROM {}.erased_cadres").format(
                sql.Identifier(self.target)))]
            if erased:
                self.models.erase(conn, erased)
            for definition in self._deferred:
                try:
                    conn.execute(definition.encode())
                except psycopg.errors.UniqueViolation as exc:  # a feed that served an event twice: nothing is switched in
                    raise RebuildError(f"the feeds gave one event twice, so {self.target} is not switched in: {exc}") from None
            conn.execute(sql.SQL("ANALYZE {}.timeline").format(sql.Identifier(self.target)))
        self._deferred = []

    def switch(self, progress: Progress) -> str | None:
        """Pause the live consumer, apply what arrived since the load, swap the schemas. Returns the old one's new name."""
        old = f"{self.live}_old_{datetime.now(UTC):%Y%m%d%H%M%S}"
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '60s'")
            for source in SOURCES:
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (consumer_lock(self.live, self.consumer, source),))
            with rpc_feeds(self.feed_config) as fetch:
                for source in SOURCES:
                    while bodies := fetch(source, read_cursor(conn, self.target, self.consumer, source), PAGE):
                        applied = apply_batch(conn, self.models, self.consumer, [from_cloudevent(source, b) for b in bodies])
                        progress(source, applied)
            had_live = self._schema_exists(self.live, conn)
            if had_live:
                self._keep_resolved_meanwhile(conn)
                conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(self.live), sql.Identifier(old)))
            conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(self.target),
                                                                          sql.Identifier(self.live)))
        return old if had_live else None

    def _keep_resolved_meanwhile(self, conn: psycopg.Connection) -> None:
        """Messages resolved in the live schema since `keep_resolved`: one of an id below its mark keeps its id (no
        other message has it there); one parked during the load gets a new one (the load may have used its id)."""
        live = sql.Identifier(self.live)
        conn.execute(sql.SQL("LOCK TABLE {}.parked_messages IN SHARE ROW EXCLUSIVE MODE").format(live))  # no resolving now
        kept = sql.SQL("l.id < {} AND NOT EXISTS (SELECT 1 FROM {}.parked_messages t WHERE t.id = l.id)").format(
            self._kept_below, sql.Identifier(self.target))
        copy_resolved(conn, self.live, self.target, kept)
        copy_resolved(conn, self.live, self.target, sql.SQL("l.id >= {}").format(self._kept_below), new_ids=True)

    def drop(self, schema: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))

    def _schema_exists(self, schema: str, conn: psycopg.Connection | None = None) -> bool:
        query = "SELECT 1 FROM pg_namespace WHERE nspname = %s"
        if conn is not None:
            return conn.execute(query, (schema,)).fetchone() is not None
        with self.pool.connection() as own:
            return own.execute(query, (schema,)).fetchone() is not None


def load_source(conninfo: str, feed_config: dict[str, Any], target: str, consumer: str, source: str, batch: int,
                reports: multiprocessing.Queue[tuple[str, int | str | None]]) -> None:
    """One source's part of a rebuild, in a process of its own: its feed, projected batch by batch."""
    # Python's cyclic collector, at its default pace, ran hundreds of times a second over the pages and batch
    # held here and took a seventh of this process's time; what a batch makes is freed by reference counting
    # (nothing it builds is cyclic), so collect rarely, and never over what the imports left.
    gc.freeze()
    gc.set_threshold(100_000, 100, 100)
    try:
        models, pages = ReadModels(target), queue.Queue[Page](maxsize=3)
        with psycopg.connect(conninfo) as conn:
            FeedReader(source, lambda: rpc_bulk_feeds(feed_config), read_cursor(conn, target, consumer, source), pages,
                       page=BULK_PAGE).start()
            pending: list[SourceEvent] = []
            while True:
                _, item = pages.get()
                if isinstance(item, Exception):
                    raise item
                pending += [from_cloudevent(source, body) for body in item or ()]
                if pending and (len(pending) >= batch or item is None):
                    with conn.transaction():
                        conn.execute("SET LOCAL synchronous_commit = off")  # a crash only means rebuilding again
                        reports.put((source, apply_batch(conn, models, consumer, pending)))
                    pending = []
                if item is None:
                    break
    except Exception as exc:  # noqa: BLE001  (reported to the parent, which stops the rebuild)
        reports.put((source, f"{exc!r}"))
        return
    reports.put((source, None))


def copy_resolved(conn: psycopg.Connection, source: str, target: str, which: sql.Composable, new_ids: bool = False) -> None:
    """Copy the resolved parked messages of `source` (alias `l`) that `which` selects into `target`, with their ids
    or (`new_ids`) with the target's next ones."""
    columns = PARKED_COLUMNS[1:] if new_ids else PARKED_COLUMNS
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    conn.execute(sql.SQL("INSERT INTO {t}.parked_messages ({names}) {overriding} SELECT {l_names}"
                         " FROM {s}.parked_messages l WHERE l.resolved_at IS NOT NULL AND {which} ORDER BY l.id").format(
        t=sql.Identifier(target), s=sql.Identifier(source), names=names, which=which,
        overriding=sql.SQL("" if new_ids else "OVERRIDING SYSTEM VALUE"),
        l_names=sql.SQL(", ").join(sql.Identifier("l", c) for c in columns)))


def apply_batch(conn: psycopg.Connection, models: ReadModels, consumer: str, batch: Sequence[SourceEvent]) -> int:
    """Project a batch, park the events that fail (as the live consumer would), advance the cursors. Returns its size."""
    schema = sql.Identifier(models.schema)
    for event, error in models.apply(conn, batch):
        conn.execute(sql.SQL("INSERT INTO {}.parked_messages (consumer, source, event_id, type, body, error)"
                             " VALUES (%s, %s, %s, %s, %s, %s)").format(schema),
                     (consumer, event.source, event.event_id, event.type, _body(event), repr(error)))
    for source, cursor in {event.source: event.cursor for event in batch}.items():
        conn.execute(sql.SQL(
            # The load records no inbox: up to here, a redelivered event is known applied by its cursor alone.
            "INSERT INTO {}.consumer_cursor (consumer, source, era, tx_id, position, inbox_era, inbox_tx_id,"
            " inbox_position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (consumer, source) DO UPDATE SET era = EXCLUDED.era, tx_id = EXCLUDED.tx_id,"
            " position = EXCLUDED.position, inbox_era = EXCLUDED.inbox_era, inbox_tx_id = EXCLUDED.inbox_tx_id,"
            " inbox_position = EXCLUDED.inbox_position, updated_at = now()").format(schema),
            (consumer, source, *cursor, *cursor))
    return len(batch)


def read_cursor(conn: psycopg.Connection, schema: str, consumer: str, source: str) -> FeedCursor:
    row = conn.execute(sql.SQL("SELECT era, tx_id, position FROM {}.consumer_cursor WHERE consumer = %s AND source = %s")
                       .format(sql.Identifier(schema)), (consumer, source)).fetchone()
    return FeedCursor(*row) if row else FEED_START


def _body(event: SourceEvent) -> str:
    return json.dumps({"id": event.event_id, "type": event.type, "subject": event.stream, "sequence": ".".join(
        map(str, event.cursor)), "data": event.data, "fourgatesmetadata": event.meta}, ensure_ascii=False, default=str)
