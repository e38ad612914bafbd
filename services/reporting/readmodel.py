"""Reporting's read-model tables in one PostgreSQL schema: load the rows a batch of events needs, project
the batch (pure), and save what changed — closing the superseded versions, then COPYing the new ones and
the timeline rows. Runs inside the caller's transaction (the consumer's, or a rebuild batch's).
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from datetime import date, datetime
from operator import itemgetter
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

import services.backbone.cooperative  # noqa: F401  (psycopg must yield to eventlet before connecting)
from services.backbone.pipelining import in_pipeline
from services.backbone.store import UNPREPARED
from services.backbone.vault import ERASED
from services.reporting.model import TABLE_KEYS, Row, Slot, SourceEvent, Working
from services.reporting.projections import (
    CHANGE_MAPS,
    PERSONAL,
    PERSONAL_COLUMNS,
    PERSONAL_EARLIER,
    WITHHELD,
    needs_of,
    project_all,
)

TABLES = (*TABLE_KEYS, "timeline", "erased_cadres")
SMALL_BATCH = 64  # rows; more than this go in with COPY
ERASURE_LOCK_CLASS, ERASURE_LOCKS = 1179075922, 1024  # advisory locks (class, count) ordering erasures and batches


class ReadModels:
    """The read models of one schema (`reporting`, or a fresh schema a rebuild fills)."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self._s = sql.Identifier(schema)
        self._columns: dict[str, list[tuple[str, str]]] = {}
        self._queries: dict[tuple[str, str], bytes] = {}  # composed once per table: a live event needs a few
        self._q_erase_record = sql.SQL("INSERT INTO {}.erased_cadres (cadre_id, erased_at, event_id)"
                                       " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING").format(self._s).as_string(None)
        self._q_erased_among = sql.SQL("SELECT cadre_id FROM {}.erased_cadres WHERE cadre_id = ANY(%s)").format(
            self._s).as_string(None)
        # A cadre's erasure lock is one of 1,024 (a batch of thousands of events takes at most that many locks,
        # however many cadres it touches); taken in order, so two batches never wait for each other in a cycle.
        buckets = f"FROM (SELECT DISTINCT hashtext(k) & {ERASURE_LOCKS - 1} AS b FROM unnest(%s::text[]) AS k ORDER BY 1) AS l"
        self._q_lock_cadres = f"SELECT count(pg_advisory_xact_lock({ERASURE_LOCK_CLASS}, b)) {buckets}"
        self._q_share_cadres = f"SELECT count(pg_advisory_xact_lock_shared({ERASURE_LOCK_CLASS}, b)) {buckets}"

    def apply(self, conn: psycopg.Connection, events: Sequence[SourceEvent]) -> list[tuple[SourceEvent, Exception]]:
        """Project `events` in order and save the result; returns the events that failed (left out, unchanged)."""
        working = Working()
        working.load(self.load(conn, needs_of(events)))
        failed = project_all(events, working)
        self.save(conn, working)
        return failed

    def columns(self, conn: psycopg.Connection, table: str) -> list[tuple[str, str]]:
        """(name, type) of each column, in table order; read once from the catalogue."""
        if table not in self._columns:
            rows = conn.execute(
                "SELECT column_name, udt_name FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position", (self.schema, table)).fetchall()
            if not rows:
                raise LookupError(f"{self.schema}.{table} does not exist: run the reporting migrations")
            self._columns[table] = [(str(name), str(udt)) for name, udt in rows]
        return self._columns[table]

    def load(self, conn: psycopg.Connection, slots: Iterable[Slot]) -> dict[Slot, Row | None]:
        """The current version of each named row (None for a row that does not exist yet)."""
        found: dict[Slot, Row | None] = {}
        by_table: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for table, key in slots:
            found[(table, key)] = None
            by_table[table].append(key)
        with conn.pipeline():  # every table's select in one round trip
            cursors = {table: self._current(conn, table, keys) for table, keys in by_table.items()}
        for table, cursor in cursors.items():
            names = [name for name, _ in self.columns(conn, table)]
            key_columns = TABLE_KEYS[table]
            for values in cursor.fetchall():
                row = {name: _plain(value) for name, value in zip(names, values, strict=True)}
                found[(table, tuple(row[k] for k in key_columns))] = row
        return found

    def save(self, conn: psycopg.Connection, working: Working) -> None:
        """Close the versions the batch superseded, then write its new versions and timeline rows."""
        closing: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        inserting: dict[str, list[Row]] = defaultdict(list)
        for table, key, closes, rows in working.changes():
            if closes is not None:
                closing[table].append((*key, closes, rows[0]["valid_from"]))
            inserting[table].extend(rows)
        if working.timeline:
            inserting["timeline"] = working.timeline
        pipelined = in_pipeline(conn)  # the live consumer's transaction: statements ride with its COMMIT
        if sum(map(len, inserting.values())) > SMALL_BATCH and not pipelined:
            touched = self._lock_cadres(conn, working)
            for table, items in closing.items():
                self._close_versions(conn, table, items)
            for table, rows in inserting.items():
                self.copy_rows(conn, table, rows)
            due = self._erased_among_touched(conn, working, touched)
        else:
            # a live batch: rows sent as statements of one pipeline rather than COPY's two round trips per table
            with nullcontext() if pipelined else conn.pipeline():
                touched = self._lock_cadres(conn, working)
                for table, items in closing.items():
                    self._close_versions(conn, table, items)
                for table, rows in inserting.items():
                    self.insert_rows(conn, table, rows)
                due = self._erased_among_touched(conn, working, touched)
        if cadres := [cadre for (cadre,) in (due.fetchall() if due is not None else ())]:
            self.erase(conn, cadres)

    def _lock_cadres(self, conn: psycopg.Connection, working: Working) -> list[str]:
        """Take the batch's erasure locks before it writes anything; returns the cadres it touched.

        Each source's events are applied in transactions of their own, concurrently: an erasure (selection)
        and a new row version for the same cadre (posting, say) could each miss the other -- the erasure's
        UPDATE not seeing the uncommitted row, the row's check not seeing the uncommitted erasure -- and
        leave that version unerased. So an erasure holds a lock per cadre until it commits, and every batch
        takes the locks of the cadres it touched, shared: whichever commits second sees the other. Taken
        before any write, so that neither can be waiting for a row the other has locked."""
        touched = sorted({row["cadre_id"] for row in working.timeline if row["cadre_id"]})
        if working.erased:
            conn.execute(self._q_lock_cadres, ([self._cadre_key(c) for c in sorted({e[0] for e in working.erased})],))
        if touched:
            conn.execute(self._q_share_cadres, ([self._cadre_key(c) for c in touched],))
        return touched

    def _erased_among_touched(self, conn: psycopg.Connection, working: Working,
                              touched: list[str]) -> psycopg.Cursor[Any] | None:
        """Record the batch's erasures; a cursor over the erased cadres among those the batch touched (their
        stored personal fields must be erased again: an event from another source may have brought them back)."""
        if working.erased:
            conn.cursor().executemany(self._q_erase_record, working.erased)
        return conn.execute(self._q_erased_among, (touched,)) if touched else None

    def _cadre_key(self, cadre_id: str) -> str:
        return f"{self.schema}:erasure:{cadre_id}"

    def erase(self, conn: psycopg.Connection, cadres: list[str]) -> None:
        """Replace the cadres' personal fields, in every version and timeline row, by the sources' placeholders."""
        for table, columns in PERSONAL_COLUMNS.items():
            for column in columns:
                conn.execute(sql.SQL("UPDATE {}.{} SET {} = %s WHERE cadre_id = ANY(%s) AND {} IS DISTINCT FROM %s").format(
                    self._s, sql.Identifier(table), sql.Identifier(column), sql.Identifier(column)),
                    (ERASED, cadres, ERASED))
        for type_, fields in PERSONAL.items():
            # an event keeps the version it was stored at, and so what was sealed then
            earlier = PERSONAL_EARLIER.get(type_, {})
            for version, sealed in earlier.items():
                self._erase_timeline(conn, cadres, type_, sealed, [version], among=True)
            self._erase_timeline(conn, cadres, type_, fields, list(earlier), among=False)

    def _erase_timeline(self, conn: psycopg.Connection, cadres: list[str], type_: str, fields: tuple[str, ...],
                        versions: list[int], among: bool) -> None:
        """Erase `fields` of the cadres' timeline rows of `type_` stored at one of `versions` (`among`), or at none."""
        # a field the timeline withholds (a birth date) was never copied: erasing it must not add it
        patch = {f: {} if f in CHANGE_MAPS else ERASED for f in fields if f not in WITHHELD.get(type_, ())}
        # the sources seal the command's reason (metadata) of these types too, under the same key
        conn.execute(sql.SQL("UPDATE {}.timeline SET data = data || %s::jsonb,"
                             " reason = CASE WHEN reason IS NULL THEN NULL ELSE %s END"
                             " WHERE cadre_id = ANY(%s) AND type = %s AND (schema_version = ANY(%s)) = %s"
                             ).format(self._s), (_json(patch), ERASED, cadres, type_, versions, among))

    def streams_of(self, conn: psycopg.Connection, cadres: list[str]) -> list[str]:
        """The source streams of every event the timeline attributes to the cadres (their register, nominations,
        placements, assessments and rosters)."""
        rows = conn.execute(sql.SQL("SELECT DISTINCT stream FROM {}.timeline WHERE cadre_id = ANY(%s)").format(self._s),
                            (cadres,)).fetchall()
        return [str(stream) for (stream,) in rows]

    def _query(self, conn: psycopg.Connection, kind: str, table: str, compose: Any) -> bytes:
        if (kind, table) not in self._queries:
            self._queries[(kind, table)] = compose(conn, table).as_bytes(conn)
        return self._queries[(kind, table)]

    def _insert(self, conn: psycopg.Connection, table: str) -> sql.Composed:
        names = [name for name, _ in self.columns(conn, table)]
        return sql.SQL("INSERT INTO {}.{} ({}) VALUES ({})").format(
            self._s, sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(sql.Placeholder() * len(names)))

    def insert_rows(self, conn: psycopg.Connection, table: str, rows: list[Row]) -> None:
        names = [name for name, _ in self.columns(conn, table)]
        jsonb = [i for i, (_, udt) in enumerate(self.columns(conn, table)) if udt == "jsonb"]
        query = self._query(conn, "insert", table, self._insert)
        params = []
        for row in rows:
            self._check(table, row, set(names))
            values = list(map(row.get, names))
            for i in jsonb:
                values[i] = None if values[i] is None else Jsonb(values[i])
            params.append(values)
        conn.cursor().executemany(query, params)

    @staticmethod
    def _check(table: str, row: Row, known: set[str]) -> None:
        if not row.keys() <= known:
            raise KeyError(f"{table} has no column(s) {sorted(row.keys() - known)}")

    def copy_rows(self, conn: psycopg.Connection, table: str, rows: Iterable[Row]) -> None:
        """COPY rows in; each row is a dict of some of the table's columns (the others NULL)."""
        columns = self.columns(conn, table)
        names = [name for name, _ in columns]
        known, width, every = set(names), len(names), itemgetter(*names)
        # jsonb and array values are sent as their text forms: psycopg's generic dumpers cost more per value
        special = [(i, _json if udt == "jsonb" else _array) for i, (_, udt) in enumerate(columns)
                   if udt == "jsonb" or udt.startswith("_")]
        query = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(self._s, sql.Identifier(table),
                                                              sql.SQL(", ").join(map(sql.Identifier, names)))
        with conn.cursor().copy(query) as copy:
            for row in rows:
                try:  # a row whose keys are exactly the columns (a timeline row) is taken in one call
                    values = list(every(row)) if len(row) == width else None
                except KeyError:
                    values = None
                if values is None:
                    self._check(table, row, known)
                    values = list(map(row.get, names))
                for i, convert in special:
                    if values[i] is not None:
                        values[i] = convert(values[i])
                copy.write_row(values)

    def _current(self, conn: psycopg.Connection, table: str, keys: list[tuple[Any, ...]]) -> psycopg.Cursor[Any]:
        """The current versions of the rows with these keys. One key (a live event's usual case): by equality,
        prepared -- its plan is an index lookup whatever the table's size when it was planned. More: by an array of
        keys, planned with them (UNPREPARED: a generic plan made while the table was small would scan it all)."""
        if len(keys) == 1:
            return conn.execute(self._query(conn, "current_one", table, self._select_current_one), keys[0])
        return conn.execute(self._query(conn, "current", table, self._select_current), self._key_arrays(table, keys),
                            prepare=UNPREPARED)

    def _close_versions(self, conn: psycopg.Connection, table: str, items: list[tuple[Any, ...]]) -> None:
        """Close the versions superseded: `items` are (*key, version, valid_to); as `_current`, one by equality."""
        if len(items) == 1:
            *key, version, valid_to = items[0]
            conn.execute(self._query(conn, "close_one", table, self._close_one), (valid_to, *key, version))
        else:
            conn.execute(self._query(conn, "close", table, self._close), [list(c) for c in zip(*items, strict=True)],
                         prepare=UNPREPARED)

    def _key_match(self, conn: psycopg.Connection, table: str, columns: Sequence[str]) -> sql.Composable:
        types = dict(self.columns(conn, table))
        return sql.SQL(" AND ").join(sql.SQL("{} = %s::{}").format(sql.Identifier(c), sql.Identifier(types[c]))
                                     for c in columns)

    def _select_current_one(self, conn: psycopg.Connection, table: str) -> sql.Composed:
        names = [name for name, _ in self.columns(conn, table)]
        return sql.SQL("SELECT {} FROM {}.{} WHERE valid_to IS NULL AND {}").format(
            sql.SQL(", ").join(map(sql.Identifier, names)), self._s, sql.Identifier(table),
            self._key_match(conn, table, TABLE_KEYS[table]))

    def _close_one(self, conn: psycopg.Connection, table: str) -> sql.Composed:
        return sql.SQL("UPDATE {}.{} SET valid_to = %s::timestamptz WHERE {}").format(
            self._s, sql.Identifier(table), self._key_match(conn, table, (*TABLE_KEYS[table], "version")))

    def _select_current(self, conn: psycopg.Connection, table: str) -> sql.Composed:
        names = [name for name, _ in self.columns(conn, table)]
        return sql.SQL("SELECT {} FROM {}.{} WHERE valid_to IS NULL AND ({}) IN (SELECT * FROM unnest({}))").format(
            sql.SQL(", ").join(map(sql.Identifier, names)), self._s, sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, TABLE_KEYS[table])), self._key_params(conn, table))

    def _close(self, conn: psycopg.Connection, table: str) -> sql.Composed:
        keys = TABLE_KEYS[table]
        params = sql.SQL(", ").join([self._key_params(conn, table), sql.SQL("%s::int[], %s::timestamptz[]")])
        match = sql.SQL(" AND ").join(sql.SQL("t.{0} = v.{0}").format(sql.Identifier(k)) for k in (*keys, "version"))
        return sql.SQL("UPDATE {}.{} AS t SET valid_to = v.valid_to FROM unnest({}) AS v({}, version, valid_to)"
                       " WHERE {}").format(self._s, sql.Identifier(table), params,
                                           sql.SQL(", ").join(map(sql.Identifier, keys)), match)

    def _key_params(self, conn: psycopg.Connection, table: str) -> sql.Composable:
        types = dict(self.columns(conn, table))
        return sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.Identifier(types[k])) for k in TABLE_KEYS[table])

    @staticmethod
    def _key_arrays(table: str, keys: list[tuple[Any, ...]]) -> list[list[Any]]:
        return [list(column) for column in zip(*keys, strict=True)] if keys else [[] for _ in TABLE_KEYS[table]]


def _plain(value: Any) -> Any:
    """Stored values as projections handle them: dates as ISO strings, like the event payloads."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value


def _json(value: Any) -> str:
    """Compact JSON text for a jsonb column: orjson (a tenth of the standard library's time for a payload),
    which refuses what the standard library takes (non-string keys, integers beyond 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _array(values: Any) -> str:
    """A text[] literal: every element quoted, quotes and backslashes escaped. A list of identifiers (most
    arrays here) comes out of orjson as that literal between brackets: nothing escaped, nothing nested,
    every element a string."""
    try:
        inner = orjson.dumps(values).decode()[1:-1]
    except TypeError:
        inner = "\\"
    if "\\" not in inner and "[" not in inner and "{" not in inner and inner.count('"') == 2 * len(values):
        return "{" + inner + "}"
    return "{" + ",".join('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"
