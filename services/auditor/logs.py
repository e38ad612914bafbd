"""Read-only access to every service's event log, for auditors (never used by a service).

The logs hold personal fields as ciphertext (the audit chain hashes them so). What an auditor is shown
(history, export, replay) is revealed through each service's own vault, exactly as the services show it:
plain text for living persons, the erasure placeholder for erased ones. `verify` reads the stored form.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from services.backbone.envelope import FEED_START, RecordedEvent, dumps, to_cloudevent
from services.backbone.store import EventStore
from services.backbone.vault import Vault

SERVICES = ("selection", "posting", "assessment", "reporting")
REVEAL_CHUNK = 1000  # events whose keys are fetched in one query (the vault keeps them for 2 s)


@contextmanager
def stores(conninfo: str, only: str | None = None, reveal: bool = False) -> Iterator[dict[str, EventStore]]:
    """A read-only EventStore for each service schema that exists (or just `only`); with `reveal`, each has its
    service's vault, so that `revealed` can decrypt (this needs the installation's master key)."""
    with psycopg.connect(conninfo) as conn:
        present = {r[0] for r in conn.execute("SELECT table_schema FROM information_schema.tables WHERE table_name = 'events'")}
    names = [s for s in SERVICES if s in present and (only is None or s == only)]
    with ConnectionPool(conninfo, min_size=1, max_size=2, kwargs={"options": "-c default_transaction_read_only=on"}) as pool:
        yield {name: EventStore(pool, name, Vault(pool, name) if reveal else None) for name in names}


def revealed(store: EventStore, events: list[RecordedEvent]) -> list[RecordedEvent]:
    """`events` of `store` as its service shows them: personal fields and reasons decrypted, or the erasure
    placeholder for an erased person. Unchanged when the store has no vault."""
    if store.vault is None:
        return events
    shown: list[RecordedEvent] = []
    for start in range(0, len(events), REVEAL_CHUNK):
        chunk = events[start:start + REVEAL_CHUNK]
        with store.pool.connection() as conn:
            store.vault.prefetch(conn, [e.data for e in chunk] + [e.metadata.reason for e in chunk])
        shown += [store.revealed(e) for e in chunk]
    return shown


def all_events(store: EventStore, until: datetime | None = None, since: datetime | None = None) -> Iterator[RecordedEvent]:
    """The log's events recorded within the bounds, in feed order, as stored (personal fields sealed)."""
    cursor = FEED_START
    while page := store.read_feed(cursor, 1000):
        for event in page:
            if (until is None or event.recorded_at <= until) and (since is None or event.recorded_at >= since):
                yield event
        cursor = page[-1].cursor


def cadre_history(stores_: dict[str, EventStore], cadre_id: str) -> list[tuple[str, RecordedEvent]]:
    """Every event of every stream that ever mentioned the cadre, across services, in time order, revealed."""
    found: list[tuple[str, RecordedEvent]] = []
    for service, store in stores_.items():
        events = list(all_events(store))
        streams = {e.stream for e in events if e.data.get("cadre_id") == cadre_id or e.stream == f"cadre-{cadre_id}"}
        found += [(service, e) for e in revealed(store, [e for e in events if e.stream in streams])]
    return sorted(found, key=lambda pair: pair[1].recorded_at)


def correlation_history(stores_: dict[str, EventStore], correlation_id: str) -> list[tuple[str, RecordedEvent]]:
    """Every event recorded under the correlation, command or causation id, across services, in time order, revealed."""
    found: list[tuple[str, RecordedEvent]] = []
    for service, store in stores_.items():
        events = [e for e in all_events(store)
                  if correlation_id in (e.metadata.correlation_id, e.metadata.causation_id, e.metadata.command_id)]
        found += [(service, e) for e in revealed(store, events)]
    return sorted(found, key=lambda pair: pair[1].recorded_at)


CSV_COLUMNS = ("service", "recorded_at", "stream", "version", "type", "event_id", "principal", "role", "unit",
               "reason", "policy_version", "correlation_id", "data")


def csv_row(service: str, e: RecordedEvent) -> dict[str, Any]:
    actor = e.metadata.actor
    return {"service": service, "recorded_at": e.recorded_at.isoformat(), "stream": e.stream, "version": e.version,
            "type": e.type, "event_id": str(e.event_id), "principal": actor.principal, "role": actor.role,
            "unit": actor.unit or "", "reason": e.metadata.reason or "", "policy_version": e.metadata.policy_version or "",
            "correlation_id": e.metadata.correlation_id, "data": json.dumps(e.data, ensure_ascii=False, sort_keys=True)}


def export_lines(events: list[tuple[str, RecordedEvent]], fmt: str) -> Iterator[str]:
    """CloudEvents JSON lines or CSV (with a header), one event per line."""
    if fmt == "jsonl":
        for _, event in events:
            yield dumps(to_cloudevent(event, None))
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for service, event in events:
        writer.writerow(csv_row(service, event))
    yield buffer.getvalue().rstrip("\n")
