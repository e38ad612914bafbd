"""Comparing two schemas of reporting's read models row for row (the live one and a rebuild, say)."""
from __future__ import annotations

import psycopg

from services.reporting.readmodel import TABLES


def differences(db: str, left: str, right: str, table: str) -> tuple[int, int, int]:
    """Rows only in left, rows only in right (as multisets), and rows in left."""
    with psycopg.connect(db) as conn:
        only_left = conn.execute(f'SELECT count(*) FROM (SELECT * FROM "{left}".{table} EXCEPT ALL'
                                 f' SELECT * FROM "{right}".{table}) d').fetchone()[0]  # type: ignore[index]
        only_right = conn.execute(f'SELECT count(*) FROM (SELECT * FROM "{right}".{table} EXCEPT ALL'
                                  f' SELECT * FROM "{left}".{table}) d').fetchone()[0]  # type: ignore[index]
        rows = conn.execute(f'SELECT count(*) FROM "{left}".{table}').fetchone()[0]  # type: ignore[index]
    return only_left, only_right, rows


def tables_that_differ(db: str, left: str, right: str) -> dict[str, tuple[int, int]]:
    """Each read-model table whose rows differ between the two schemas: (rows only in left, only in right)."""
    found = {table: differences(db, left, right, table)[:2] for table in TABLES}
    return {table: counts for table, counts in found.items() if counts != (0, 0)}


def cursors(db: str, schema: str) -> list[tuple[object, ...]]:
    """How far the schema's consumer got in each source's feed."""
    with psycopg.connect(db) as conn:
        return conn.execute(f'SELECT source, era, tx_id, position FROM "{schema}".consumer_cursor ORDER BY 1').fetchall()


def drop_schema(db: str, schema: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
