"""Event-store benchmark: our EventStore against the `eventsourcing` library and hand-written SQL.

Run as `python -m bench.store` (`make bench-store`). Everything runs in this one process, with real
OS threads, against one PostgreSQL database (`fourgates_bench`, created if missing; override the
connection with FOURGATES_BENCH_DB). Each contender writes into a fresh schema of its own, dropped
and recreated at the start of every run:

- fourgates: `EventStore.append` (per-stream advisory lock, version check, idempotency check,
  RETURNING the recorded rows), table from `services.backbone.migrations` (schema bench_fourgates);
- eventsourcing: the library's PostgreSQL `Application.save` of the same events, i.e. its mapper
  (JSON transcoder) and `PostgresApplicationRecorder` (table lock, NOTIFY, unnest insert) (bench_es);
- raw SQL: the same rows, json-encoded the same way, in one plain multi-row INSERT per transaction
  into an identical events table (tx_id xid8 default, no advisory lock, no version check) (bench_raw).

All three get the same NewEvents (same 305-byte payloads, same metadata), built inside the timed
loop; each writer thread appends to streams of its own. After a warm-up, four rounds run the
contenders interleaved (order rotated per round), each round 1 writer x 1000 transactions x 1 event
then 16 writers x 100 transactions x 10 events; a contender's best round is its figure, since the
machine is shared. Feed reading compares `EventStore.read_feed` in pages of 500 with a plain
`SELECT * ... ORDER BY position` fetched 500 rows at a time (server-side cursor) over the same
table, best of two full reads each; a keyset-paged SELECT is printed for information.

The last printed line is `append_ratio_vs_eventsourcing_16w=<number>`.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import psycopg.waiting
from psycopg import sql
from psycopg_pool import ConnectionPool

from services.backbone.domain import Actor
from services.backbone.envelope import FEED_START, Metadata, NewEvent
from services.backbone.migrations import ensure_database, migrate
from services.backbone.store import EventStore

try:
    from eventsourcing.application import Application
    from eventsourcing.domain import DomainEvent
except ImportError:  # pragma: no cover - a dev dependency
    sys.exit("bench.store needs the eventsourcing library: .venv/bin/pip install 'eventsourcing[postgres]>=9.5,<10'")

BENCH_DB = os.environ.get(
    "FOURGATES_BENCH_DB", "host=127.0.0.1 hostaddr=127.0.0.1 port=5432 user=postgres dbname=fourgates_bench"
)
OURS, RAW, LIB = "bench_fourgates", "bench_raw", "bench_es"

WRITERS = 16
ONE_WRITER_EVENTS = 1000  # per round: 1 writer x 1000 transactions x 1 event
TX_PER_WRITER = 100  # per round: 16 writers x 100 transactions x 10 events = 16 000 events
EVENTS_PER_TX = 10
APPENDS_PER_STREAM = 10  # each writer cycles over its own streams; every stream gets 10 appends
PAGE = 500
READ_REPEATS = 2
ROUNDS = 4  # interleaved, order rotated each round; the best round counts (the machine is shared)

GOAL_VS_LIBRARY = 3.0
GOAL_VS_RAW = 0.60
GOAL_READ = 0.50


# ---------------------------------------------------------------------------------------------
# The events: one builder for every contender.

ACTORS = [
    Actor("od-clerk-07", "organisation_department", "county-od"),
    Actor("committee-secretary-2", "party_committee", "county-pc"),
    Actor("host-hr-14", "host_unit", "township-lingxi"),
    Actor("sender-hr-03", "sending_unit", "bureau-water"),
]
EVENT_TYPES = ["selection.NominationRecorded", "selection.CandidateAssessed", "posting.SecondmentScheduled"]
REASONS = [
    "annual secondment round, second batch approved at committee meeting",
    "assessment result entered after the host unit's review",
    "posting confirmed by the receiving township",
]


def payload(writer: int, tx: int, k: int) -> dict[str, Any]:
    """A realistic event payload, 305 bytes of JSON (deterministic, so every contender stores the same)."""
    n = writer * 100_000 + tx * 100 + k
    return {
        "cadre_id": f"C-2024-{n:07d}",
        "name": "张伟" if n % 2 else "李娜",
        "sending_unit": "bureau-water",
        "host_unit": "township-lingxi",
        "position": "副乡长（挂职）",
        "term": {"start": "2024-09-01", "end": "2026-08-31"},
        "assessment": {"grade": "excellent" if n % 3 else "competent", "score": 80 + n % 20},
        "remarks": "考察组意见：政治素质好。",
    }


def build_batch(writer: int, tx: int, count: int) -> list[NewEvent]:
    """`count` events of one command: full metadata (actor, reason, correlation/causation ids)."""
    command_id = str(uuid.uuid4())
    metadata = Metadata(
        actor=ACTORS[writer % len(ACTORS)],
        command_id=command_id,
        correlation_id=f"corr-{writer:02d}-{tx // 5:05d}",
        causation_id=str(uuid.uuid4()),
        source="selection",
        occurred_at=datetime.now(UTC),
        reason=REASONS[tx % len(REASONS)],
        policy_version="selection-rules-2024.2",
    )
    return [
        NewEvent(uuid.uuid4(), EVENT_TYPES[(tx + k) % len(EVENT_TYPES)], 1, payload(writer, tx, k), metadata)
        for k in range(count)
    ]


def stream_name(phase: str, writer: int, tx: int, txs: int) -> str:
    streams = max(1, txs // APPENDS_PER_STREAM)
    return f"{phase}-w{writer:02d}-cadre-{tx % streams:04d}"


# ---------------------------------------------------------------------------------------------
# The contenders. Each returns, for a phase, the function one writer thread calls per transaction.

TxFn = Callable[[int, int], None]


class FourGates:
    label = "fourgates EventStore.append"

    def __init__(self) -> None:
        migrate(BENCH_DB, OURS, service="none")
        self.pool = ConnectionPool(BENCH_DB, min_size=WRITERS, max_size=WRITERS, open=True, name="bench-ours")
        self.pool.wait()
        self.store = EventStore(self.pool, OURS)

    def phase(self, phase: str, txs: int, per_tx: int) -> TxFn:
        versions: dict[str, int] = {}

        def tx(writer: int, t: int) -> None:
            stream = stream_name(phase, writer, t, txs)
            current = versions.get(stream, 0)
            self.store.append(stream, build_batch(writer, t, per_tx), expected_version=current)
            versions[stream] = current + per_tx

        return tx

    def close(self) -> None:
        self.pool.close()


class RawSql:
    label = "raw SQL INSERT (xid8 horizon)"

    def __init__(self) -> None:
        migrate(BENCH_DB, RAW, service="none")
        self.pool = ConnectionPool(BENCH_DB, min_size=WRITERS, max_size=WRITERS, open=True, name="bench-raw")
        self.pool.wait()
        self.head = sql.SQL(
            "INSERT INTO {}.events (stream, version, event_id, type, schema_version, data, metadata) VALUES "
        ).format(sql.Identifier(RAW))
        self.inserts: dict[int, sql.Composed] = {}

    def insert(self, rows: int) -> sql.Composed:
        if rows not in self.inserts:
            values = sql.SQL(", ").join(sql.SQL("(%s, %s, %s, %s, %s, %s::jsonb, %s::jsonb)") for _ in range(rows))
            self.inserts[rows] = self.head + values
        return self.inserts[rows]

    def phase(self, phase: str, txs: int, per_tx: int) -> TxFn:
        versions: dict[str, int] = {}
        query = self.insert(per_tx)

        def tx(writer: int, t: int) -> None:
            stream = stream_name(phase, writer, t, txs)
            current = versions.get(stream, 0)
            params: list[Any] = []
            for i, e in enumerate(build_batch(writer, t, per_tx)):
                params += (stream, current + i + 1, e.event_id, e.type, e.schema_version,
                           json.dumps(e.data, ensure_ascii=False), json.dumps(e.metadata.to_json(), ensure_ascii=False))
            with self.pool.connection() as conn, conn.transaction():
                conn.execute(query, params)
            versions[stream] = current + per_tx

        return tx

    def close(self) -> None:
        self.pool.close()


class BenchEvent(DomainEvent):
    """The same event as a NewEvent, as an eventsourcing domain event (id, version, timestamp + ours)."""

    event_id: uuid.UUID
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]


class EventsourcingBench(Application):  # type: ignore[type-arg]
    """A plain eventsourcing application; its events table is bench_es.eventsourcingbench_events."""


class Eventsourcing:
    label = "eventsourcing Application.save"

    def __init__(self) -> None:
        params = psycopg.conninfo.conninfo_to_dict(BENCH_DB)
        with psycopg.connect(BENCH_DB, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(LIB)))
        self.app = EventsourcingBench(env={
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(params.get("dbname", "fourgates_bench")),
            "POSTGRES_HOST": str(params.get("hostaddr") or params.get("host", "127.0.0.1")),
            "POSTGRES_PORT": str(params.get("port", "5432")),
            "POSTGRES_USER": str(params.get("user", "postgres")),
            "POSTGRES_PASSWORD": str(params.get("password", "")),
            "POSTGRES_SCHEMA": LIB,
            "POSTGRES_POOL_SIZE": str(WRITERS),
            "POSTGRES_MAX_OVERFLOW": "0",
        })

    def phase(self, phase: str, txs: int, per_tx: int) -> TxFn:
        versions: dict[str, int] = {}

        def tx(writer: int, t: int) -> None:
            stream = stream_name(phase, writer, t, txs)
            originator = uuid.uuid5(uuid.NAMESPACE_URL, stream)
            current = versions.get(stream, 0)
            events = [
                BenchEvent(
                    originator_id=originator, originator_version=current + i + 1, timestamp=e.metadata.occurred_at,
                    event_id=e.event_id, event_type=e.type, schema_version=e.schema_version,
                    data=e.data, metadata=e.metadata.to_json(),
                )
                for i, e in enumerate(build_batch(writer, t, per_tx))
            ]
            self.app.save(*events)
            versions[stream] = current + per_tx

        return tx

    def close(self) -> None:
        self.app.close()


# ---------------------------------------------------------------------------------------------
# Measuring.

def run_writers(writers: int, txs: int, tx: TxFn) -> float:
    """Seconds for `writers` OS threads to run `txs` transactions each, all started together."""
    barrier = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def work(writer: int) -> None:
        barrier.wait()
        try:
            for t in range(txs):
                tx(writer, t)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,), name=f"writer-{w}") for w in range(writers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def warm_up(contender: Any) -> None:
    """Open every pooled connection and let prepared statements and caches settle."""
    run_writers(1, 100, contender.phase("warm1", 100, 1))
    run_writers(WRITERS, 10, contender.phase("warm16", 10, EVENTS_PER_TX))


def measure_round(contender: Any, round_: int) -> tuple[float, float]:
    """(events/s at 1 writer x 1 event per tx, events/s at 16 writers x 10 events per tx)."""
    one = run_writers(1, ONE_WRITER_EVENTS, contender.phase(f"r{round_}w1", ONE_WRITER_EVENTS, 1))
    many = run_writers(WRITERS, TX_PER_WRITER, contender.phase(f"r{round_}w16", TX_PER_WRITER, EVENTS_PER_TX))
    return ONE_WRITER_EVENTS / one, WRITERS * TX_PER_WRITER * EVENTS_PER_TX / many


def read_with_store(store: EventStore) -> int:
    cursor, count = FEED_START, 0
    while page := store.read_feed(cursor, limit=PAGE):
        count += len(page)
        cursor = page[-1].cursor
    return count


def read_plain(pool: ConnectionPool) -> int:
    count = 0
    query = sql.SQL("SELECT * FROM {}.events ORDER BY position").format(sql.Identifier(OURS))
    with pool.connection() as conn, conn.transaction(), conn.cursor(name="bench_plain_select") as cur:
        cur.execute(query)
        while rows := cur.fetchmany(PAGE):
            count += len(rows)
    return count


def read_plain_paged(pool: ConnectionPool) -> int:
    """Keyset pages, one pooled transaction each, as read_feed does them (informational)."""
    count, after = 0, 0
    query = sql.SQL("SELECT * FROM {}.events WHERE position > %s ORDER BY position LIMIT %s").format(
        sql.Identifier(OURS)
    )
    while True:
        with pool.connection() as conn, conn.transaction():
            rows = conn.execute(query, (after, PAGE)).fetchall()
        if not rows:
            return count
        count += len(rows)
        after = rows[-1][0]


def best_rate(read: Callable[[], int], repeats: int = READ_REPEATS) -> tuple[float, int]:
    best, rows = 0.0, 0
    for _ in range(repeats):
        started = time.perf_counter()
        rows = read()
        best = max(best, rows / (time.perf_counter() - started))
    return best, rows


def fresh_schemas() -> str:
    ensure_database(BENCH_DB)
    with psycopg.connect(BENCH_DB, autocommit=True) as conn:
        for schema in (OURS, RAW, LIB):
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        row = conn.execute("SELECT current_setting('server_version')").fetchone()
    return str(row[0]) if row else "?"


def verdict(value: float, goal: float) -> str:
    """Judged on the unrounded ratio."""
    return f"goal >= {goal:.2f}: {'met' if value >= goal else 'MISSED'}"


def rate(value: float) -> str:
    return f"{value:>9,.0f} events/s"


def main() -> None:
    began = time.perf_counter()
    version = fresh_schemas()
    dbname = psycopg.conninfo.conninfo_to_dict(BENCH_DB).get("dbname")
    print(f"event-store benchmark: PostgreSQL {version}, database {dbname}, {os.cpu_count()} CPU(s),"
          f" Python {sys.version.split()[0]}, psycopg {psycopg.__version__} (wait={psycopg.waiting.wait.__name__})")
    print(f"append: {ROUNDS} interleaved rounds after a warm-up, each 1 writer x {ONE_WRITER_EVENTS} tx x 1 event"
          f" then {WRITERS} writers x {TX_PER_WRITER} tx x {EVENTS_PER_TX} events; best round reported", flush=True)

    contenders: list[Any] = [FourGates(), Eventsourcing(), RawSql()]
    for contender in contenders:
        warm_up(contender)
    runs: dict[str, list[tuple[float, float]]] = {c.label: [] for c in contenders}
    for round_ in range(1, ROUNDS + 1):
        shift = (round_ - 1) % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            result = measure_round(contender, round_)
            runs[contender.label].append(result)
            print(f"  round {round_}  {contender.label:<32}{rate(result[0])} (1w){rate(result[1])} (16w)", flush=True)
    ours_store = contenders[0]
    for contender in contenders[1:]:
        contender.close()

    best = {label: (max(r[0] for r in results), max(r[1] for r in results)) for label, results in runs.items()}
    ours, lib, raw = best[FourGates.label], best[Eventsourcing.label], best[RawSql.label]
    ratio_lib_1, ratio_lib_16 = ours[0] / lib[0], ours[1] / lib[1]
    ratio_raw_1, ratio_raw_16 = ours[0] / raw[0], ours[1] / raw[1]

    print(f"feed read: best of {READ_REPEATS} full reads each, pages of {PAGE}", flush=True)
    read_ours, n_ours = best_rate(lambda: read_with_store(ours_store.store))
    read_sel, n_sel = best_rate(lambda: read_plain(ours_store.pool))
    read_keyset, n_keyset = best_rate(lambda: read_plain_paged(ours_store.pool))
    ours_store.close()
    if not n_ours == n_sel == n_keyset:
        raise SystemExit(f"feed read saw {n_ours} rows, plain SELECT {n_sel}, keyset pages {n_keyset}")
    ratio_read = read_ours / read_sel

    print()
    print("append, 1 writer x 1 event per transaction")
    print(f"  {FourGates.label:<34}{rate(ours[0])}")
    print(f"  {Eventsourcing.label:<34}{rate(lib[0])}   fourgates/eventsourcing = {ratio_lib_1:.3f}")
    print(f"  {RawSql.label:<34}{rate(raw[0])}   fourgates/raw SQL = {ratio_raw_1:.3f}")
    print(f"append, {WRITERS} writers x {EVENTS_PER_TX} events per transaction")
    print(f"  {FourGates.label:<34}{rate(ours[1])}")
    print(f"  {Eventsourcing.label:<34}{rate(lib[1])}   fourgates/eventsourcing = {ratio_lib_16:.3f}"
          f"   ({verdict(ratio_lib_16, GOAL_VS_LIBRARY)})")
    print(f"  {RawSql.label:<34}{rate(raw[1])}   fourgates/raw SQL = {ratio_raw_16:.3f}"
          f"   ({verdict(ratio_raw_16, GOAL_VS_RAW)})")
    print(f"  (info: raw SQL/eventsourcing = {raw[1] / lib[1]:.3f}, the most any store could reach here)")
    print(f"feed read, {n_ours} events in pages of {PAGE}")
    print(f"  {'fourgates EventStore.read_feed':<34}{rate(read_ours)}")
    print(f"  {'plain SELECT ... ORDER BY position':<34}{rate(read_sel)}   read_feed/SELECT = {ratio_read:.3f}"
          f"   ({verdict(ratio_read, GOAL_READ)})")
    print(f"  {'keyset-paged SELECT (info)':<34}{rate(read_keyset)}   read_feed/keyset pages = {read_ours / read_keyset:.3f}")
    print(f"total {time.perf_counter() - began:.0f} s")
    print(f"append_ratio_vs_eventsourcing_16w={ratio_lib_16:.2f}", flush=True)


if __name__ == "__main__":
    main()
