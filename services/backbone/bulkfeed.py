"""The feed in bulk, for readers that replay a whole log (a read-model rebuild): pages of thousands of
events as one text, one CloudEvent per line, rendered by PostgreSQL.

`read_feed` builds a RecordedEvent and a CloudEvents dict per event and the transport encodes them
again: about 55 µs of Python per event in the source service. Here PostgreSQL writes each line, and
Python touches only the events that carry sealed personal fields (to reveal them, as every feed does).
The lines are the same CloudEvents as `envelope.to_cloudevent` makes, key for key; the feed's order
and horizon are the store's own (`EventStore.read_feed`).
"""
from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from psycopg import sql

from services.backbone.envelope import FeedCursor, dumps, loads, to_cloudevent
from services.backbone.store import EventStore
from services.backbone.vault import MARKER, TEXT_PREFIX

MAX_PAGE = 5000
_SEALED = (f'"{MARKER}"', f'"reason": "{TEXT_PREFIX}')


def _page_query(schema: str) -> sql.Composed:
    return sql.SQL("""
        SELECT json_build_object(
            'specversion', '1.0', 'id', event_id, 'source', '/fourgates/' || (metadata->>'source'),
            'type', type, 'subject', stream, 'time', recorded_at, 'datacontenttype', 'application/json',
            'dataschema', 'urn:fourgates:' || type || ':v' || schema_version, 'sequence', token,
            'previoussequence', coalesce(lag(token) OVER feed, %s), 'streamversion', version,
            'correlationid', metadata->>'correlation_id', 'causationid', metadata->>'causation_id',
            'fourgatesmetadata', metadata, 'data', data)::text
        FROM (SELECT *, era || '.' || tx_id || '.' || position AS token FROM {s}.events
              WHERE (era, tx_id, position) > (%s, %s::text::xid8, %s)
                AND (era < (SELECT era FROM {s}.feed_era) OR tx_id < %s::text::xid8)
              ORDER BY era, tx_id, position LIMIT %s) AS page
        WINDOW feed AS (ORDER BY era, tx_id, position)
        ORDER BY era, tx_id, position""").format(s=sql.Identifier(schema))


def cloudevents_after(store: EventStore, after: FeedCursor, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` committed events after `after`, as CloudEvents dicts, revealed (`read_feed`, `/feed`).

    Each names the event before it in the feed as its `previoussequence` — for the first, the event at or
    before the reader's cursor, so a made-up cursor does not pass a reader's gap check."""
    events = store.read_feed(after, limit)
    previous = store.predecessor(after) if events else None
    bodies = []
    for event in events:
        bodies.append(to_cloudevent(store.revealed(event), previous))
        previous = event.cursor
    return bodies


def feed_page(store: EventStore, after: FeedCursor, limit: int) -> str:
    """Up to `limit` committed events after `after`, one CloudEvent per line, revealed; '' at the end.

    The first line's `previoussequence` is the event before it in the feed, whatever cursor the reader gave.
    """
    with store.transaction() as conn:
        conn.execute("SET LOCAL timezone = 'UTC'")
        before = store.predecessor(after, conn)
        first_previous = before.token if before else ""
        horizon = store.horizon(conn)  # a statement of its own, before the page's
        rows = conn.execute(_page_query(store.schema), (first_previous, *after, horizon, min(limit, MAX_PAGE))).fetchall()
    return "\n".join(_revealed(store, line) if any(s in line for s in _SEALED) else line for (line,) in rows)


def _revealed(store: EventStore, line: str) -> str:
    if store.vault is None:
        return line
    body: dict[str, Any] = json.loads(line)
    body["data"] = store.vault.reveal(body["data"])
    metadata = body["fourgatesmetadata"]
    metadata["reason"] = store.vault.reveal_text(metadata.get("reason"))
    return dumps(body)


def parse_page(text: str) -> list[dict[str, Any]]:
    """The CloudEvents of a page made by `feed_page` (a JSON text holds no raw newline: one parse for the page)."""
    result: list[dict[str, Any]] = loads("[" + text.replace("\n", ",") + "]") if text else []
    return result


def pack_page(text: str) -> str:
    """A page as it travels: compressed (its JSON shrinks about 8 times) and in base64, which the RPC's JSON
    encodes without escaping a character (nameko encodes a reply twice, and escaping a page's quotes and
    Chinese text costs more than compressing it)."""
    return base64.b64encode(zlib.compress(text.encode(), 1)).decode("ascii")


def unpack_page(packed: str) -> str:
    return zlib.decompress(base64.b64decode(packed, validate=True)).decode()
