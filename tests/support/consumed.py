"""How many events each consumer has yet to apply: the events of each source it subscribes to (the whole
feed, or only its topic's types: services/topics.py) that its inbox does not hold. For tests and benchmarks,
which may read every schema; no service does."""
from __future__ import annotations

import psycopg

from services.topics import SUBSCRIPTIONS


def backlog(conn: psycopg.Connection, consumers: tuple[str, ...] = tuple(SUBSCRIPTIONS)) -> dict[tuple[str, str], int]:
    """Per (consumer, source): events it subscribes to that it has not applied (its inbox lacks them)."""
    behind: dict[tuple[str, str], int] = {}
    for consumer in consumers:
        for source, topic in SUBSCRIPTIONS[consumer].items():
            types = sorted(topic.types) if topic is not None else None
            row = conn.execute(
                f'SELECT count(*) FROM "{source}".events e WHERE (%s::text[] IS NULL OR e.type = ANY(%s::text[]))'  # noqa: S608
                f' AND NOT EXISTS (SELECT 1 FROM "{consumer}".consumer_inbox i'
                "  WHERE i.consumer = %s AND i.event_id = e.event_id)", (types, types, consumer)).fetchone()
            behind[(consumer, source)] = row[0] if row else 0
    return behind
