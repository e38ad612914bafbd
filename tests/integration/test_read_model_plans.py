"""Reporting's read models find a row's current version by its key among rows that only grow; the statements
that do so must be planned with their values, never kept as a generic plan made while the table was small
(PostgreSQL keeps that until the next ANALYZE -- never without autovacuum -- and it scans the whole table: 3.6 ms
per update by the end of the e2e benchmark). Against a real PostgreSQL."""
from __future__ import annotations

import psycopg

from services.reporting.readmodel import ReadModels
from tests.integration.test_reporting_erasure_race import PLANNED, event


def test_the_current_versions_are_read_and_closed_by_statements_planned_with_their_values(
        db_url: str, reporting_schema: str) -> None:
    models = ReadModels(reporting_schema)
    with psycopg.connect(db_url) as conn:
        for n in range(1, 8):  # one placement at a time: by equality
            placement = f"p{n}"
            assert models.apply(conn, [event(2 * n, "posting.PlacementPlanned", **{**PLANNED, "placement_id": placement})]) == []
            assert models.apply(conn, [event(2 * n + 1, "posting.PlacementRecalled", placement_id=placement,
                                             recalled_on="2025-06-01", reason="工作需要")]) == []
            conn.commit()
        for n in range(8, 22, 2):  # two at a time: by arrays of keys
            pair = (f"p{n}", f"p{n + 1}")
            assert models.apply(conn, [event(100 + 4 * n + i, "posting.PlacementPlanned", **{**PLANNED, "placement_id": p})
                                       for i, p in enumerate(pair)]) == []
            assert models.apply(conn, [event(102 + 4 * n + i, "posting.PlacementRecalled", placement_id=p,
                                             recalled_on="2025-06-01", reason="工作需要") for i, p in enumerate(pair)]) == []
            conn.commit()
        current = conn.execute("SELECT count(*) FILTER (WHERE valid_to IS NULL), count(*)"
                               f' FROM "{reporting_schema}".placements').fetchone()
        kept = [s for (s,) in conn.execute("SELECT statement FROM pg_prepared_statements")]
    assert current == (21, 42)  # each placement: its first version closed by the recall, the recall's current
    assert [s for s in kept if "SET valid_to" in s and "unnest" not in s], "one key: by equality, prepared"
    assert not [s for s in kept if "unnest" in s and ("valid_to IS NULL" in s or "SET valid_to" in s)], kept
