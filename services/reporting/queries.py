"""Reading the read models: every view is one SQL query over the versioned tables, asked either of the
current versions or of the versions valid at `as_of` — the same query either way.

A view's SQL names each table's version condition `{cur_<alias>}`; `Reader` fills it in and adds the
view's filters, order and page.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg import Cursor, sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

import services.backbone.cooperative  # noqa: F401  (psycopg must yield to eventlet before connecting)

ALIASES = ("c", "n", "p", "pl", "a", "e", "r", "k", "tr", "u")


@dataclass(frozen=True)
class View:
    """One table view: its query, the filters it accepts (param -> condition on `v`), its order."""

    name: str
    query: str
    filters: Mapping[str, str] = field(default_factory=dict)
    order: str = "1"


class Rows(list[dict[str, Any]]):
    """A view's rows as dicts, and the columns its query declares: an empty answer still knows its header."""

    def __init__(self, items: Iterable[dict[str, Any]] = (), columns: Sequence[str] = ()) -> None:
        super().__init__(items)
        self.columns = list(columns)


def version_condition(alias: str, as_of: datetime | None) -> sql.Composable:
    """The versions of table `alias` to read: the current ones, or those valid at `as_of`."""
    a = sql.Identifier(alias)
    if as_of is None:
        return sql.SQL("{}.valid_to IS NULL").format(a)
    return sql.SQL("({a}.valid_from <= %(as_of)s AND ({a}.valid_to IS NULL OR {a}.valid_to > %(as_of)s))").format(a=a)


class Reader:
    """Runs views against one schema's read models."""

    def __init__(self, pool: ConnectionPool, schema: str = "reporting") -> None:
        self.pool, self.schema = pool, schema

    def compose(self, query: str, as_of: datetime | None) -> sql.Composed:
        parts = {f"cur_{alias}": version_condition(alias, as_of) for alias in ALIASES}
        return sql.SQL(query).format(s=sql.Identifier(self.schema), **parts)

    def params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Query parameters: the request's, plus `at` — the moment the view describes (as_of, else now)."""
        as_of = values.get("as_of")
        return {**values, "at": as_of or datetime.now(UTC)}

    def rows(self, query: str, values: Mapping[str, Any]) -> Rows:
        """All rows of a query (with `{cur_x}` and `{s}` filled in) as dicts."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(self.compose(query, values.get("as_of")), self.params(values))
            return Rows(cur.fetchall(), declared(cur))

    def page(self, view: View, values: Mapping[str, Any], limit: int, offset: int,
             order: str | None = None) -> tuple[Rows, int]:
        """One page of a view's rows matching the given filters, and how many match in all."""
        inner = filtered(view, values)
        params = {**self.params(values), "limit": limit, "offset": offset}
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            as_of = values.get("as_of")
            cur.execute(self.compose(f"SELECT count(*) AS n FROM ({inner}) AS counted", as_of), params)
            total = int(cur.fetchone()["n"])  # type: ignore[index]
            cur.execute(self.compose(f"{inner} ORDER BY {order or view.order} LIMIT %(limit)s OFFSET %(offset)s", as_of), params)
            return Rows(cur.fetchall(), declared(cur)), total


def declared(cur: Cursor[Any]) -> list[str]:
    """The columns a query declares, known from its description even when it returns no rows."""
    return [column.name for column in cur.description or ()]


def filtered(view: View, values: Mapping[str, Any]) -> str:
    """The view's query narrowed by each filter that has a value; its rows are named `v`."""
    active = [cond for param, cond in view.filters.items() if values.get(param) is not None]
    return f"SELECT * FROM ({view.query}) AS v WHERE {' AND '.join(active) or 'true'}"
