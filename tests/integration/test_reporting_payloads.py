"""Payloads that the fast JSON path refuses still reach the read models whole, in bulk (COPY, as a rebuild
writes) and one by one (as the live consumer writes) -- against a real PostgreSQL."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from services.reporting.model import Attribution, SourceEvent
from services.reporting.projections import timeline_row
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


UNITS = [[], ["county-od"], ["清水镇", "a b,c"], ['say "hi"'], ["back\\slash"], ["{braces}", "[brackets]"], ["new\nline"],
         ["NULL"], ["null", "None"]]


@pytest.mark.parametrize("events", [1, SMALL_BATCH + 1], ids=["one by one", "in bulk"])
@pytest.mark.parametrize("units", UNITS, ids=range(len(UNITS)))
def test_a_units_array_reaches_the_timeline_as_sent(db_url: str, reporting_schema: str, events: int,
                                                     units: list[str]) -> None:
    # units come from event payloads: whatever a source sent must come back the same, quotes, braces,
    # newlines and the word NULL included (COPY's array literal has its own quoting rules)
    batch = [event(n)._replace(type="posting.UnitsNoted", data={"units": units}) for n in range(events)]
    with psycopg.connect(db_url) as conn, conn.transaction():
        models = ReadModels(reporting_schema)
        rows = [{**timeline_row(e, Attribution(None, tuple(units))), "units": units} for e in batch]
        if events > SMALL_BATCH:
            models.copy_rows(conn, "timeline", rows)
        else:
            models.insert_rows(conn, "timeline", rows)

    with psycopg.connect(db_url) as conn:
        stored = conn.execute(f'SELECT units FROM "{reporting_schema}".timeline').fetchall()
    assert [u for (u,) in stored] == [units] * events
