"""The audit chain: a sequencer seals each committed event, in feed order, with a gap-free audit
number and SHA-256(previous hash ‖ canonical bytes of the event); `verify_chain` recomputes it and
names the first audit number where an event was changed, inserted or removed. The chain head is
exported outside the database, so that removing the newest events (and their seals) shows too.

Each exported head carries the identity of the database that sealed it (`database_identity`): a database
dropped and created again under the same name is another database, and its chain is compared only with
its own heads. Heads of another identity are reported (`EarlierDatabase`), never taken for tampering with
this chain, and never silently dropped: a recreation is also a way to hide altered events from them.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql

import services.backbone.cooperative  # noqa: F401  (psycopg must yield to eventlet before connecting)
from services.backbone.envelope import FEED_START, FeedCursor, RecordedEvent
from services.backbone.heads import ChainHead, database_identity, heads_path, read_heads
from services.backbone.metrics import HEAD_EXPORT_FAILURES
from services.backbone.store import EventStore

__all__ = ["ChainHead", "EarlierDatabase", "Sequencer", "VerifyResult", "canonical_bytes", "chain_hash",
           "database_identity", "heads_path", "read_heads", "verify_absent", "verify_chain"]

log = logging.getLogger(__name__)
GENESIS = "0" * 64


def canonical_bytes(event: RecordedEvent) -> bytes:
    """The bytes the hash covers: every stored field, keys sorted, no whitespace (ciphertext, never plaintext)."""
    body = {
        "event_id": str(event.event_id), "stream": event.stream, "version": event.version, "type": event.type,
        "schema_version": event.schema_version, "data": event.data, "metadata": event.metadata.to_json(),
        "recorded_at": event.recorded_at.astimezone(UTC).isoformat(),
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def chain_hash(previous: str, event: RecordedEvent) -> str:
    return hashlib.sha256(previous.encode() + canonical_bytes(event)).hexdigest()


class Sequencer:
    """Seals new events of one service's log; one active per service (session advisory lock)."""

    def __init__(self, store: EventStore, conninfo: str, service: str, head_dir: Path | None = None,
                 poll_seconds: float = 0.5, export_every: float = 60.0) -> None:
        self.store, self.conninfo, self.service = store, conninfo, service
        self.head_dir, self.poll_seconds, self.export_every = head_dir, poll_seconds, export_every
        self.stop = threading.Event()
        self._s = sql.Identifier(store.schema)
        self._q_head = sql.SQL("SELECT audit_no, hash, era, tx_id, position FROM {}.audit_chain"
                               " ORDER BY audit_no DESC LIMIT 1").format(self._s).as_string(None)
        # One statement per batch (arrays, one per column) instead of one round trip per sealed event.
        self._q_seal = sql.SQL(
            "INSERT INTO {}.audit_chain (audit_no, event_id, era, tx_id, position, hash)"
            " SELECT * FROM unnest(%s::bigint[], %s::uuid[], %s::int[], %s::bigint[], %s::bigint[], %s::text[])"
        ).format(self._s).as_string(None)

    def run(self) -> None:
        """Seal forever; on any failure back off and start again."""
        while not self.stop.is_set():
            try:
                self._lead_and_seal()
            except Exception as exc:  # noqa: BLE001  (database away: retry, never die)
                log.warning("sequencer %s: %s; retrying in 1s", self.service, exc)
                self.stop.wait(1.0)

    def _lead_and_seal(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as lock_conn:
            key = f"sequencer:{self.store.schema}"
            while not lock_conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()[0]:  # type: ignore[index]
                if self.stop.wait(self.poll_seconds * 5):
                    return
            exported = 0.0
            while not self.stop.is_set():
                lock_conn.execute("SELECT 1")
                sealed = self.seal_batch()
                now = datetime.now(UTC).timestamp()
                if self.head_dir is not None and (sealed or now - exported > self.export_every):
                    if now - exported > min(self.export_every, 5.0):
                        self._export_or_report()
                        exported = now  # failed or not: tried again at the next round, not at every poll
                if not sealed:
                    self.stop.wait(self.poll_seconds)

    def _export_or_report(self) -> None:
        # A head that cannot be written (folder not writable, disk full) must not cost the lock: leaving
        # `_lead_and_seal` would drop the leadership, so sealing would flap between replicas or stall.
        try:
            self.export_head()
        except OSError as exc:
            HEAD_EXPORT_FAILURES.labels(self.service).inc()
            log.warning("sequencer %s: could not export the chain head to %s (%s); sealing goes on, the next round"
                        " exports again", self.service, self.head_dir, exc,
                        extra={"service": self.service, "head_dir": str(self.head_dir), "error": type(exc).__name__})

    def seal_batch(self, limit: int = 1000) -> int:
        """Seal the next committed events after the chain's end; returns how many."""
        with self.store.transaction() as conn:
            head = conn.execute(self._q_head).fetchone()
            audit_no, previous, cursor = (head[0], head[1], FeedCursor(*head[2:])) if head else (0, GENESIS, FEED_START)
            events = self.store.read_feed(cursor, limit, conn=conn)
            rows = []
            for event in events:
                audit_no, previous = audit_no + 1, chain_hash(previous, event)
                rows.append((audit_no, event.event_id, *event.cursor, previous))
            if rows:
                conn.execute(self._q_seal, [list(column) for column in zip(*rows, strict=True)])
        return len(rows)

    def head(self) -> ChainHead | None:
        with self.store.transaction() as conn:
            row = conn.execute(sql.SQL("SELECT audit_no, hash FROM {}.audit_chain ORDER BY audit_no DESC LIMIT 1")
                               .format(self._s)).fetchone()
            identity = database_identity(conn)
        return ChainHead(self.service, row[0], row[1], datetime.now(UTC).isoformat(), identity) if row else None

    def export_head(self) -> ChainHead | None:
        """Append the current head to `<head_dir>/<database>/<identity>/<service>.heads.jsonl` (outside the database)."""
        head = self.head()
        if head is not None and self.head_dir is not None:
            path = heads_path(self.head_dir, self.conninfo, self.service, head.database)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as out:
                out.write(head.to_json() + "\n")
        return head


Finding = Literal["changed", "inserted", "removed", "truncated"]


@dataclass(frozen=True)
class EarlierDatabase:
    """The heads that another database of the same name exported (one dropped and created again, or the
    original of a restored copy): compared with this chain only to say whether it continues theirs."""
    identity: str | None  # None: exported before identities were recorded, and before this chain began
    heads: int
    last_exported_at: str
    departure: str | None  # how this chain departs from their heads; None: it continues them (a restored copy)
    recreated_before: str | None  # when this database first exported a head after theirs, if it has


@dataclass(frozen=True)
class VerifyResult:
    schema: str
    checked: int
    ok: bool
    audit_no: int | None = None
    kind: Finding | None = None
    detail: str = ""
    database: str | None = None  # the identity of the database verified
    earlier: tuple[EarlierDatabase, ...] = ()


def verify_chain(store: EventStore, exported_heads: list[ChainHead] | None = None,
                 progress: Any = None, batch: int = 2000) -> VerifyResult:
    """Recompute the chain of one service; report the first audit number that does not hold."""
    schema = sql.Identifier(store.schema)
    previous, checked, last_cursor = GENESIS, 0, FEED_START
    with store.transaction() as conn:
        if conn.execute("SELECT to_regclass(%s)", (sql.Identifier(store.schema, "audit_chain").as_string(conn),)
                        ).fetchone() == (None,):
            stored = conn.execute(sql.SQL("SELECT count(*) FROM {s}.events").format(s=schema)).fetchone()
            return VerifyResult(store.schema, 0, False, 1, "removed",
                                f"{store.schema}.audit_chain is gone: the seals of the log's {stored[0] if stored else 0}"
                                " events were removed, so nothing of it can be shown unaltered")
        while True:
            seals = conn.execute(sql.SQL(
                "SELECT a.audit_no, a.event_id, a.era, a.tx_id, a.position, a.hash"
                " FROM {s}.audit_chain a WHERE a.audit_no > %s ORDER BY a.audit_no LIMIT %s"
            ).format(s=schema), (checked, batch)).fetchall()
            events = {e.event_id: e for e in store.read_events([row[1] for row in seals], conn=conn)}
            for audit_no, event_id, era, tx_id, position, stored_hash in seals:
                finding = _check_seal(checked + 1, audit_no, event_id, events.get(event_id), previous, stored_hash,
                                      FeedCursor(era, tx_id, position))
                if finding is not None:
                    return VerifyResult(store.schema, checked, False, *finding)
                previous, checked, last_cursor = stored_hash, checked + 1, FeedCursor(era, tx_id, position)
            if progress is not None:
                progress(len(seals))
            if len(seals) < batch:
                break
        inserted = _first_unsealed_before(conn, schema, last_cursor)
        if inserted is not None:
            return VerifyResult(store.schema, checked, False, inserted[1], "inserted",
                                f"event {inserted[0]} sits before audit no {inserted[1]} in the sealed part of the log"
                                " but has no seal: it was inserted")
        return _against_exported(conn, schema, store.schema, checked, exported_heads or [])


def verify_absent(conn: psycopg.Connection, schema: str, exported_heads: list[ChainHead]) -> VerifyResult:
    """A service whose event log is gone (its schema or its events table dropped): a failure if this database
    exported heads of its chain, since every sealed event was removed; another database's heads are reported."""
    identity = database_identity(conn)
    own, others = _own_and_others(identity, exported_heads, None)
    earlier = tuple(EarlierDatabase(other, len(its), its[-1].exported_at, _departure_of(its, 0, {}), None)
                    for other, its in others.items())
    if own:
        last = max(own, key=lambda head: head.audit_no)
        return VerifyResult(schema, 0, False, 1, "removed",
                            f"{schema}.events is gone, but this database exported its chain's head at audit no"
                            f" {last.audit_no} ({last.exported_at}): the whole log was removed", identity, earlier)
    return VerifyResult(schema, 0, True, database=identity, earlier=earlier)


def _check_seal(expected_no: int, audit_no: int, event_id: Any, event: RecordedEvent | None,
                previous: str, stored_hash: str, sealed_at: FeedCursor) -> tuple[int, Finding, str] | None:
    if audit_no != expected_no:
        return expected_no, "removed", f"audit numbers jump from {expected_no - 1} to {audit_no}: sealed events were deleted"
    if event is None:
        return audit_no, "removed", f"event {event_id} sealed as audit no {audit_no} is no longer in the log"
    if chain_hash(previous, event) != stored_hash:
        return audit_no, "changed", f"event {event_id} (audit no {audit_no}) does not match its seal: it was altered"
    if tuple(event.cursor) != tuple(sealed_at):
        # the hash does not cover the feed position; the seal keeps it, and replays read the log in that order
        return audit_no, "changed", (f"event {event_id} (audit no {audit_no}) was sealed at feed position {sealed_at.token}"
                                     f" and now sits at {event.cursor.token}: it was moved in the log")
    return None


def _first_unsealed_before(conn: psycopg.Connection, schema: sql.Identifier, cursor: FeedCursor) -> tuple[Any, int] | None:
    row = conn.execute(sql.SQL(
        "SELECT e.event_id, (SELECT min(a.audit_no) FROM {s}.audit_chain a"
        "   WHERE (a.era, a.tx_id, a.position) > (e.era, e.tx_id::text::bigint, e.position))"
        " FROM {s}.events e WHERE (e.era, e.tx_id, e.position) <= (%s, %s::text::xid8, %s)"
        " AND NOT EXISTS (SELECT 1 FROM {s}.audit_chain a WHERE a.event_id = e.event_id)"
        " ORDER BY e.era, e.tx_id, e.position LIMIT 1").format(s=schema), tuple(cursor)).fetchone()
    return (row[0], row[1]) if row else None


def _against_exported(conn: psycopg.Connection, schema: sql.Identifier, name: str, checked: int,
                      heads: list[ChainHead]) -> VerifyResult:
    """The chain must still reach every head this database exported, with the same hash; another database's heads
    are only reported (`EarlierDatabase`)."""
    identity = database_identity(conn)
    hashes: dict[int, str] = dict(conn.execute(
        sql.SQL("SELECT audit_no, hash FROM {}.audit_chain WHERE audit_no = ANY(%s)").format(schema),
        ([h.audit_no for h in heads if h.audit_no <= checked],)).fetchall())
    began = conn.execute(sql.SQL("SELECT e.recorded_at FROM {s}.audit_chain a JOIN {s}.events e USING (event_id)"
                                 " WHERE a.audit_no = 1").format(s=schema)).fetchone()
    own, others = _own_and_others(identity, heads, began[0] if began else None)
    earlier = tuple(EarlierDatabase(other, len(its), its[-1].exported_at, _departure_of(its, checked, hashes),
                                    next((h.exported_at for h in own if h.exported_at > its[-1].exported_at), None))
                    for other, its in others.items())
    for head in own:
        kind = _departure(head, checked, hashes)
        if kind is not None:
            return VerifyResult(name, checked, False, checked + 1 if kind == "truncated" else head.audit_no, kind,
                                _own_departure(head, kind, checked), identity, earlier)
    return VerifyResult(name, checked, True, database=identity, earlier=earlier)


def _own_and_others(identity: str, heads: list[ChainHead],
                    began: datetime | None) -> tuple[list[ChainHead], dict[str | None, list[ChainHead]]]:
    """This database's heads, and those of other databases of its name by identity. A head without an identity
    is taken for this database's, unless it was exported before this chain's first event was recorded."""
    own: list[ChainHead] = []
    others: dict[str | None, list[ChainHead]] = {}
    for head in heads:
        unrecorded_but_ours = head.database is None and (began is None or datetime.fromisoformat(head.exported_at) >= began)
        if head.database == identity or unrecorded_but_ours:
            own.append(head)
        else:
            others.setdefault(head.database, []).append(head)
    return own, others


def _own_departure(head: ChainHead, kind: Finding, checked: int) -> str:
    detail = (f"the head exported at {head.exported_at} was audit no {head.audit_no}; the chain now ends at {checked}:"
              " the newest events were removed") if kind == "truncated" else (
              f"audit no {head.audit_no} no longer has the hash exported at {head.exported_at}")
    if head.database is None:
        detail += (" (a head exported before database identities were recorded: if this database was dropped and"
                   " created again since, see 'Recreating or restoring the database' in docs/runbook.md)")
    return detail


def _departure(head: ChainHead, checked: int, hashes: dict[int, str]) -> Finding | None:
    if head.audit_no > checked:
        return "truncated"
    return "changed" if hashes.get(head.audit_no) != head.hash else None


def _departure_of(heads: list[ChainHead], checked: int, hashes: dict[int, str]) -> str | None:
    for head in heads:
        kind = _departure(head, checked, hashes)
        if kind == "truncated":
            return f"it had reached audit no {head.audit_no} (exported at {head.exported_at}); this chain ends at {checked}"
        if kind == "changed":
            return f"audit no {head.audit_no} has another hash here than it exported at {head.exported_at}"
    return None
