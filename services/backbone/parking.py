"""Parked messages: what a consumer could not apply is kept, with why, for an operator to replay or dismiss.

A message that never reached a handler (undecodable, malformed, oversized, another source's type) is parked
unread (`recorded` false): its event, if it is one, still comes through the source's feed. An event a handler
failed on is parked `recorded`: the inbox holds it and the cursor moved past it, so only a replay applies it.
Who resolved a message, how and why are kept beside it.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from services.backbone.domain import NotFoundError, StepOrderError
from services.backbone.envelope import FeedCursor, RecordedEvent, dumps, from_cloudevent, to_cloudevent
from services.backbone.logs import correlation_id
from services.backbone.vault import ERASED, placeholder

log = logging.getLogger("services.backbone.consumer")


class ParkedStillFailsError(StepOrderError):
    """A replayed parked event failed again; it stays parked with the new error."""


class ParkedMessages:
    """The parking of an IdempotentConsumer (its base): park, list, replay, dismiss."""

    pool: ConnectionPool
    schema: str
    name: str
    stats: Any
    _s: sql.Identifier
    _q_seen: str

    def _apply_again(self, conn: psycopg.Connection, source: str, event: RecordedEvent) -> str | None:
        raise NotImplementedError

    def _park_event(self, conn: psycopg.Connection, source: str, event: RecordedEvent, error: str) -> None:
        """Park an event that failed, and move the cursor past it so the source's next events flow."""
        self._insert_parked(conn, source, str(event.event_id), event.type, dumps(to_cloudevent(event, None)), error,
                            recorded=True)
        log.error("consumer %s parked %s %s: %s", self.name, event.type, event.event_id, error.splitlines()[-1])

    def park(self, source: str, body: Any, error: str) -> None:
        """Park a message that is not even a readable event."""
        raw = body if isinstance(body, str) else dumps(body)
        event_id = body.get("id") if isinstance(body, dict) else None
        type_ = body.get("type") if isinstance(body, dict) else None
        with self.pool.connection() as conn, conn.transaction():
            if event_id is not None and self._parked_already(conn, str(event_id), raw):
                log.warning("consumer %s: a copy of parked message %s from %s arrived again; one is kept", self.name,
                            event_id, source)
                return
            self._insert_parked(conn, source, event_id, type_, raw, error, recorded=False)
        log.error("consumer %s parked a malformed message from %s: %s", self.name, source, error)

    def _parked_already(self, conn: psycopg.Connection, event_id: str, body: str) -> bool:
        """Is this very message parked unread and still open (a redelivery, a relay's republish)? The operator
        has one to replay or dismiss, not one per copy."""
        return conn.execute(sql.SQL(
            "SELECT 1 FROM {}.parked_messages WHERE consumer = %s AND event_id = %s AND NOT recorded"
            " AND resolved_at IS NULL AND body = %s LIMIT 1").format(self._s), (self.name, event_id, body)
        ).fetchone() is not None

    def _insert_parked(self, conn: psycopg.Connection, source: str, event_id: str | None, type_: str | None,
                       body: str, error: str, recorded: bool) -> None:
        """`recorded`: the event is in the inbox and the cursor past it (a handler failed on it); otherwise the
        message never reached a handler and the event, if it is one, may still come through the feed."""
        self.stats.parked += 1
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.parked_messages (consumer, source, event_id, type, body, error, recorded)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)"
            ).format(self._s),
            (self.name, source, event_id, type_, body, error, recorded),
        )

    def parked(self, include_resolved: bool = False, limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Parked messages for operators, oldest first (the open ones, or all), and how many there are."""
        columns = ("id", "source", "event_id", "type", "error", "parked_at", "resolved_at", "resolution", "resolved_by",
                   "resolution_note")
        where = sql.SQL("WHERE consumer = %s AND (%s OR resolved_at IS NULL)")
        with self.pool.connection() as conn:
            rows = conn.execute(sql.SQL("SELECT {} FROM {}.parked_messages {} ORDER BY id LIMIT %s OFFSET %s").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), self._s, where),
                (self.name, include_resolved, limit, offset)).fetchall()
            total = conn.execute(sql.SQL("SELECT count(*) FROM {}.parked_messages {}").format(self._s, where),
                                 (self.name, include_resolved)).fetchone()
        return [dict(zip(columns, row, strict=True)) for row in rows], int(total[0]) if total else 0

    def replay_parked(self, parked_id: int, by: str, note: str | None = None) -> dict[str, Any]:
        """Apply a parked event again through this consumer's handler (fixed or upgraded since): resolved as
        `replayed` when it applies now; when it fails again it stays parked with the new error, and
        ParkedStillFailsError says why. Taken in turn with the source's live deliveries (its lock).

        The event is applied after the events that followed it in the source's feed: replay only what
        does not depend on coming first (the runbook says how to judge).

        A message parked before it reached a handler (too large, say) left the event to the source's feed,
        which usually brought it since: such a replay is refused (`parked.applied_already`, dismiss it) when
        the inbox has the event, and otherwise records it there, so that the feed does not apply it again."""
        with self.pool.connection() as conn:
            with conn.transaction():
                source, body, recorded = self._open_parked(conn, parked_id)
                try:
                    event = from_cloudevent(json.loads(body))
                except Exception as exc:  # noqa: BLE001  (a malformed message stays what it is)
                    raise StepOrderError("parked.not_an_event", f"parked message {parked_id} is not a readable event"
                                         f" ({exc!r}): dismiss it instead", parked_id=parked_id) from None
                if not event.type.startswith(f"{source}."):
                    raise StepOrderError("parked.not_an_event", f"parked message {parked_id} carries {event.type!r},"
                                         f" not an event of {source}: dismiss it instead", parked_id=parked_id)
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"consumer:{self.schema}:{self.name}:{source}",))
                if not recorded and self._applied_already(conn, source, event):
                    raise StepOrderError("parked.applied_already", f"event {event.event_id} of parked message {parked_id}"
                                         f" was applied already (it came through {source}'s feed, or in another"
                                         " message): dismiss this one", parked_id=parked_id)
                error = self._apply_again(conn, source, event)
                if error is None:
                    if not recorded:
                        conn.execute(self._q_seen, (self.name, [event.event_id], source))
                    self._resolve(conn, parked_id, "replayed", by, note)
                else:
                    conn.execute(sql.SQL("UPDATE {}.parked_messages SET error = %s WHERE id = %s").format(self._s),
                                 (error, parked_id))
        if error is not None:
            raise ParkedStillFailsError("parked.replay_failed", f"parked message {parked_id} failed again and stays"
                                        f" parked: {error.strip().splitlines()[-1]}", parked_id=parked_id)
        correlation_id.set(event.metadata.correlation_id)
        log.info("consumer %s replayed parked %s (%s %s)", self.name, parked_id, event.type, event.event_id,
                 extra={"consumer": self.name, "resolved_by": by})
        return {"id": parked_id, "resolution": "replayed", "event_id": str(event.event_id), "type": event.type}

    def dismiss_parked(self, parked_id: int, by: str, note: str) -> dict[str, Any]:
        """Close a parked message without applying it (a malformed message, an event that must not apply)."""
        with self.pool.connection() as conn, conn.transaction():
            self._open_parked(conn, parked_id)
            self._resolve(conn, parked_id, "dismissed", by, note)
        log.warning("consumer %s dismissed parked %s: %s", self.name, parked_id, note,
                    extra={"consumer": self.name, "resolved_by": by})
        return {"id": parked_id, "resolution": "dismissed"}

    def _open_parked(self, conn: psycopg.Connection, parked_id: int) -> tuple[str, str, bool]:
        """Under a lock of its own (an advisory lock: a replayed handler's append must be its transaction's first
        write), the parked message's source, body and whether its event was recorded in the inbox; refused when
        it is unknown or resolved already."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"parked:{self.schema}:{self.name}:{parked_id}",))
        row = conn.execute(sql.SQL("SELECT source, body, resolution, recorded FROM {}.parked_messages"
                                   " WHERE id = %s AND consumer = %s").format(self._s), (parked_id, self.name)).fetchone()
        if row is None:
            raise NotFoundError("parked.unknown", f"{self.name} has no parked message {parked_id}", parked_id=parked_id)
        if row[2] is not None:
            raise StepOrderError("parked.resolved", f"parked message {parked_id} was {row[2]} already", parked_id=parked_id)
        return str(row[0] or ""), str(row[1]), bool(row[3])

    def _applied_already(self, conn: psycopg.Connection, source: str, event: RecordedEvent) -> bool:
        """In the inbox, or at or before the cursor a rebuild left (it loaded those events without the inbox)."""
        row = conn.execute(sql.SQL(
            "SELECT EXISTS (SELECT 1 FROM {s}.consumer_inbox WHERE consumer = %s AND event_id = %s),"
            " (SELECT ARRAY[inbox_era, inbox_tx_id, inbox_position] FROM {s}.consumer_cursor"
            "  WHERE consumer = %s AND source = %s AND inbox_era IS NOT NULL)").format(s=self._s),
            (self.name, event.event_id, self.name, source)).fetchone()
        assert row is not None
        return bool(row[0]) or (row[1] is not None and event.cursor <= FeedCursor(*row[1]))

    def _resolve(self, conn: psycopg.Connection, parked_id: int, resolution: str, by: str, note: str | None) -> None:
        conn.execute(sql.SQL("UPDATE {}.parked_messages SET resolved_at = now(), resolution = %s, resolved_by = %s,"
                             " resolution_note = %s WHERE id = %s").format(self._s), (resolution, by, note, parked_id))


def erase_parked(conn: psycopg.Connection, schema: str, cadres: Collection[str], streams: Collection[str],
                 personal: Mapping[str, tuple[str, ...]],
                 earlier: Mapping[str, Mapping[int, tuple[str, ...]]] | None = None) -> int:
    """On a cadre's erasure, in the consumer's transaction: erase the personal values of every parked message
    (of any consumer of `schema`, open or resolved) about the cadre, found by its `data.cadre_id` or its stream.

    A message is parked as it arrived: revealed by the source's relay, its personal fields in clear, which the
    source's erasure (destroying a key) cannot reach. `personal` names, per event type, the fields the source
    seals (`earlier`: per older schema version, the fields it sealed then, if others); they become the placeholders
    a revealed erased field reads as, and so does the command's reason of these types. A body that is no readable
    event but names the cadre or one of its streams is replaced whole.
    Returns how many parked messages were changed."""
    names = {*cadres, *streams}
    if not names:
        return 0
    patterns = ['%"' + n.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '"%' for n in sorted(names)]
    s = sql.Identifier(schema)
    rows = conn.execute(sql.SQL("SELECT id, body FROM {}.parked_messages WHERE body LIKE ANY(%s)").format(s),
                        (patterns,)).fetchall()
    changed = 0
    for parked_id, body in rows:
        erased = _erased_body(str(body), set(cadres), set(streams), personal, earlier or {})
        if erased is not None and erased != body:
            conn.execute(sql.SQL("UPDATE {}.parked_messages SET body = %s WHERE id = %s").format(s), (erased, parked_id))
            changed += 1
    return changed


def _erased_body(body: str, cadres: set[str], streams: set[str], personal: Mapping[str, tuple[str, ...]],
                 earlier: Mapping[str, Mapping[int, tuple[str, ...]]]) -> str | None:
    """The body with the cadre's personal values erased; None when it is not about the cadre."""
    try:
        message = json.loads(body)
    except ValueError:
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
        return ERASED if any(f'"{n}"' in body for n in cadres | streams) else None
    data = message["data"]
    if data.get("cadre_id") not in cadres and message.get("subject") not in streams:
        return None
    type_ = message.get("type")
    if not isinstance(type_, str) or type_ not in personal:
        return None
    version = _schema_version(message)
    sealed = personal[type_] if version is None else earlier.get(type_, {}).get(version, personal[type_])
    message["data"] = {k: placeholder(v) if k in sealed and v not in (None, "") else v for k, v in data.items()}
    metadata = message.get("fourgatesmetadata")
    if isinstance(metadata, dict) and metadata.get("reason"):
        metadata["reason"] = ERASED
    return dumps(message)


def _schema_version(message: dict[str, Any]) -> int | None:
    """The payload version a CloudEvent's `dataschema` names (`urn:fourgates:<type>:v<n>`), if it names one."""
    version = str(message.get("dataschema") or "").rpartition(":v")[2]
    return int(version) if version.isdigit() else None
