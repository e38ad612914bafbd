"""Replay: rebuild reporting's read models into a scratch schema from the events recorded up to a moment.

The auditor reads every service's log directly (read-only), reveals personal fields as the services do
(erased persons stay erased), and projects the events with the reporting service's own projections, so
the scratch schema shows exactly what reporting knew then.

The replay writes only into a scratch schema of its own: it refuses the services' schemas (and any
schema holding an event log), and an existing schema it did not create. A schema it created is marked
with a comment, so that `--replace` may drop and rebuild that one, and nothing else.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql

from services.auditor.logs import SERVICES, all_events, revealed
from services.backbone.envelope import RecordedEvent, to_cloudevent
from services.backbone.migrations import migrate
from services.backbone.store import EventStore
from services.reporting.feeds import from_cloudevent
from services.reporting.model import SOURCES, SourceEvent
from services.reporting.output import cell
from services.reporting.queries import version_condition
from services.reporting.readmodel import TABLES, ReadModels
from services.reporting.rebuilder import apply_batch

BATCH = 2000
MARK = "fourgates auditor replay"  # the comment on every schema a replay created
PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
SHARED = ("public", "information_schema")
# The read models that are not versioned (every other one is), with the column saying when each row happened.
APPEND_ONLY = {"timeline": "recorded_at", "erased_cadres": "erased_at"}


class ReplayTargetError(ValueError):
    """The schema named for a replay is not a scratch schema the replay may write into."""


def prepare_target(conninfo: str, target: str, replace: bool) -> None:
    """Create `target` (marked as a replay's) with reporting's tables, or refuse it; with `replace`, first drop
    an earlier replay's schema of that name. Raises ReplayTargetError naming what is wrong and what to do."""
    if not PLAIN_NAME.fullmatch(target) or target.startswith("pg_"):
        raise ReplayTargetError(f"--into {target!r} is not a plain schema name: use lower-case letters, digits and _"
                                " (at most 63, not starting with a digit or pg_)")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if _earlier_replay(conn, target, replace):
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(target)))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(target)))
        conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(sql.Identifier(target), sql.Literal(MARK)))
    migrate(conninfo, target, service="reporting")


def _earlier_replay(conn: psycopg.Connection, schema: str, replace: bool) -> bool:
    """True if `schema` holds an earlier replay that `replace` allows to drop; False if it is absent or empty;
    ReplayTargetError if a replay may not write there."""
    row = conn.execute("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
                       (schema,)).fetchone()
    made_by_replay = row is not None and row[0] == MARK
    tables = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                         (schema,))}
    if schema in SERVICES or ("events" in tables and _has_rows(conn, schema, "events")):
        raise ReplayTargetError(f"schema {schema} belongs to a service (it holds an event log): a replay never writes"
                                " there; name a scratch schema with --into")
    if schema in SHARED:
        raise ReplayTargetError(f"schema {schema} is shared by the whole database: name a scratch schema with --into")
    if made_by_replay and not replace:
        raise ReplayTargetError(f"schema {schema} holds an earlier replay: add --replace to drop and rebuild it,"
                                " or name another schema with --into")
    if tables and not made_by_replay:
        raise ReplayTargetError(f"schema {schema} exists and holds tables without a replay's mark: name another"
                                " schema with --into (drop it yourself if it is a replay older than the mark)")
    return made_by_replay


def _has_rows(conn: psycopg.Connection, schema: str, table: str) -> bool:
    # A replay's schema has an (always empty) `events` table too: reporting's migrations include the backbone's.
    found = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.{})").format(
        sql.Identifier(schema), sql.Identifier(table))).fetchone()
    return found is not None and bool(found[0])


def replay(conninfo: str, stores: dict[str, EventStore], as_of: datetime, target: str,
           progress: Callable[[str, int], None]) -> dict[str, int]:
    """Project every source's events recorded at or before `as_of` into `target` (made by `prepare_target`),
    revealed as the services show them; returns the number of events applied per source."""
    models, applied = ReadModels(target), dict.fromkeys(SOURCES, 0)
    with psycopg.connect(conninfo) as conn:
        for source in SOURCES:
            store = stores.get(source)
            if store is None:
                continue
            batch: list[RecordedEvent] = []
            for event in all_events(store, until=as_of):
                batch.append(event)
                if len(batch) == BATCH:
                    applied[source] += _apply(conn, models, _source_events(store, source, batch), source, progress)
                    batch = []
            if batch:
                applied[source] += _apply(conn, models, _source_events(store, source, batch), source, progress)
    return applied


def _source_events(store: EventStore, source: str, batch: list[RecordedEvent]) -> list[SourceEvent]:
    return [from_cloudevent(source, to_cloudevent(event, None)) for event in revealed(store, batch)]


def _apply(conn: psycopg.Connection, models: ReadModels, batch: list[SourceEvent], source: str,
           progress: Callable[[str, int], None]) -> int:
    with conn.transaction():
        count = apply_batch(conn, models, "replay", batch)
    progress(source, count)
    return count


def record_counts(conninfo: str, schema: str, as_of: datetime) -> dict[str, int]:
    """How many records each read model of `schema` holds as of `as_of`: one per entity for the versioned
    tables (its version valid then), every row for the timeline and the erasures recorded by then."""
    counts = {}
    with psycopg.connect(conninfo) as conn:
        for table in TABLES:
            condition = (sql.SQL("{} <= %(as_of)s").format(sql.Identifier(APPEND_ONLY[table])) if table in APPEND_ONLY
                         else version_condition("t", as_of))
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}.{} AS t WHERE {}").format(
                sql.Identifier(schema), sql.Identifier(table), condition), {"as_of": as_of}).fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


def export_tables(conninfo: str, schema: str, folder: Path) -> list[Path]:
    """Every read-model table of the scratch schema as a CSV file (UTF-8 with BOM, for spreadsheets), with all
    its row versions (valid_from, valid_to) so that a spreadsheet can follow each record's changes; cells written
    as reporting's exports write them (`true`/`false`, text never a formula)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with psycopg.connect(conninfo) as conn:
        for table in TABLES:
            cur = conn.execute(sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
            path = folder / f"{table}.csv"
            with open(path, "w", encoding="utf-8-sig", newline="") as out:
                writer = csv.writer(out)
                writer.writerow([c.name for c in cur.description or []])
                writer.writerows([cell(value) for value in row] for row in cur)
            written.append(path)
    return written
