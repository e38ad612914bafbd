"""What an operator asks of reporting: how far each source's feed is applied, and what was parked."""
from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

import services.backbone.cooperative  # noqa: F401  (psycopg must yield to eventlet before connecting)


def consumer_status(pool: ConnectionPool, schema: str, consumer: str) -> dict[str, Any]:
    """Per source: the cursor reached, when, and how many of its events the timeline holds; events parked."""
    s = sql.Identifier(schema)
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.SQL(
            "SELECT c.source, c.era || '.' || c.tx_id || '.' || c.position AS cursor, c.updated_at,"
            " (SELECT count(*) FROM {s}.timeline t WHERE t.source = c.source) AS events"
            " FROM {s}.consumer_cursor c WHERE c.consumer = %s ORDER BY c.source").format(s=s), (consumer,))
        sources = [{**row, "updated_at": row["updated_at"].isoformat()} for row in cur.fetchall()]
        cur.execute(sql.SQL("SELECT count(DISTINCT coalesce(event_id, id::text)) AS n FROM {s}.parked_messages"
                            " WHERE consumer = %s AND resolved_at IS NULL").format(s=s), (consumer,))
        parked = cur.fetchone()["n"]  # type: ignore[index]
    return {"schema": schema, "sources": sources, "parked": parked}
