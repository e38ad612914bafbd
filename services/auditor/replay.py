"""Replay: rebuild reporting's read models into a scratch schema from the events recorded up to a moment.

The auditor reads every service's log directly (read-only), reveals personal fields when this
installation's master key is at hand (erased persons stay erased), and projects the events with the
reporting service's own projections, so the scratch schema shows exactly what reporting knew then.
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql

from services.auditor.logs import all_events
from services.backbone.envelope import to_cloudevent
from services.backbone.migrations import migrate
from services.backbone.store import EventStore
from services.backbone.vault import Vault
from services.reporting.feeds import from_cloudevent
from services.reporting.model import SOURCES, SourceEvent
from services.reporting.readmodel import ReadModels
from services.reporting.rebuilder import apply_batch

BATCH = 2000


def replay(conninfo: str, stores: dict[str, EventStore], as_of: datetime, target: str,
           progress: Callable[[str, int], None]) -> dict[str, int]:
    """Project every source's events recorded at or before `as_of` into `target`; events per source."""
    migrate(conninfo, target, service="reporting")
    models, applied = ReadModels(target), dict.fromkeys(SOURCES, 0)
    with psycopg.connect(conninfo) as conn:
        for source in SOURCES:
            store = stores.get(source)
            if store is None:
                continue
            vault = Vault(store.pool, store.schema)
            batch = []
            for event in all_events(store, until=as_of):
                revealed = event.with_data(vault.reveal(event.data), event.schema_version)
                batch.append(from_cloudevent(source, to_cloudevent(revealed, None)))
                if len(batch) == BATCH:
                    applied[source] += _apply(conn, models, batch, source, progress)
                    batch = []
            if batch:
                applied[source] += _apply(conn, models, batch, source, progress)
    return applied


def _apply(conn: psycopg.Connection, models: ReadModels, batch: list[SourceEvent], source: str,
           progress: Callable[[str, int], None]) -> int:
    with conn.transaction():
        count = apply_batch(conn, models, "replay", batch)
    progress(source, count)
    return count


def table_counts(conninfo: str, schema: str) -> dict[str, int]:
    with psycopg.connect(conninfo) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE'"
            " ORDER BY table_name", (schema,))]
        return {t: int(conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(t))).fetchone()[0]) for t in tables}  # type: ignore[index]


def export_tables(conninfo: str, schema: str, folder: Path) -> list[Path]:
    """Every table of the scratch schema as a CSV file (UTF-8 with BOM, for spreadsheets)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with psycopg.connect(conninfo) as conn:
        for table in table_counts(conninfo, schema):
            cur = conn.execute(sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
            path = folder / f"{table}.csv"
            with open(path, "w", encoding="utf-8-sig", newline="") as out:
                writer = csv.writer(out)
                writer.writerow([c.name for c in cur.description or []])
                writer.writerows(cur)
            written.append(path)
    return written
