"""Payloads that the fast JSON path refuses still reach the read models whole, in bulk (COPY, as a rebuild
writes) and one by one (as the live consumer writes) -- against a real PostgreSQL."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from services.reporting.model import SourceEvent
from services.reporting.readmodel import SMALL_BATCH, ReadModels

AWKWARD = {"count": 2**70, "by_year": {2025: "优秀"}, "note": "民主测评 \"称职\" \\ \t"}  # a 70-bit integer, an int key


def event(n: int) -> SourceEvent:
    meta = {"actor": {"principal": "od.zhang", "role": "organisation_department", "unit": "county-od"},
            "correlation_id": "corr", "command_id": f"cmd-{n}", "occurred_at": "2025-03-01T00:00:00+00:00"}
    return SourceEvent("posting", str(uuid.uuid4()), "posting.NoteFiled", 1, f"s-{n}", 1, (1, n, 0),
                       datetime(2025, 3, 1, tzinfo=UTC), {**AWKWARD, "n": n}, meta)


@pytest.mark.parametrize("events", [1, SMALL_BATCH + 1], ids=["one by one", "in bulk"])
def test_a_payload_with_a_huge_integer_and_a_numeric_key_reaches_the_timeline_whole(
        db_url: str, reporting_schema: str, events: int) -> None:
    with psycopg.connect(db_url) as conn, conn.transaction():
        failed = ReadModels(reporting_schema).apply(conn, [event(n) for n in range(events)])

    assert failed == []
    with psycopg.connect(db_url) as conn:
        rows: list[Any] = conn.execute(f'SELECT data FROM "{reporting_schema}".timeline ORDER BY tx_id').fetchall()
    assert len(rows) == events
    assert rows[-1][0] == {"count": 2**70, "by_year": {"2025": "优秀"}, "note": AWKWARD["note"], "n": events - 1}
