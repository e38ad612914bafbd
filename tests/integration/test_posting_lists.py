"""Posting's placement lists, as the API pages them, against a real event log.

The list is served from the folds the service keeps (filled in bulk the first time, refreshed with only
what each stream recorded since) and only the page's placements are folded in full; a cadre's placements
are found by their planning event. Whatever the path, the page must be what folding every stream of the
log would give, personal text included (the kept folds leave it out).
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from services.backbone.commands import Aggregates
from services.backbone.store import EventStore
from services.backbone.vault import Vault
from services.posting import handlers as h
from services.posting import queries as q
from tests.conftest import migrated_schema, new_event

UNITS = ("qingshui-township", "baima-township", "county-petition-office")
HOMES = ("county-finance", "county-education")
FAR_FUTURE = datetime.now(UTC) + timedelta(days=3650)  # "as of" a moment after everything: the slow path


@pytest.fixture
def aggregates(db_url: str) -> Iterator[Aggregates]:
    with migrated_schema(db_url, "posting") as schema, ConnectionPool(db_url, min_size=1, max_size=4) as pool:
        yield Aggregates(EventStore(pool, schema, vault=Vault(pool, schema)), h.REGISTRY)


def plan(agg: Aggregates, i: int, cadre_id: str, rng: random.Random) -> None:
    pid = f"p{i:04d}"
    events = [new_event("posting.PlacementPlanned", {
        "placement_id": pid, "nomination_id": f"n{i:04d}", "cadre_id": cadre_id, "cadre_rank": "section_member",
        "placement_type": rng.choice(("gap_filling", "strength", "docking")), "home_unit": rng.choice(HOMES),
        "host_unit": rng.choice(UNITS), "host_post": "副镇长", "post_level": "deputy_section",
        "posting_mode": "full_time", "term_months": 12, "start_date": "2025-03-01"})]
    fate = rng.random()
    if fate > 0.3:
        events.append(new_event("posting.PlacementStarted", {"placement_id": pid, "started_on": "2025-03-01",
                                                              "ends_on": "2026-03-01"}))
    if fate > 0.8:
        events.append(new_event("posting.PlacementRecalled", {"placement_id": pid, "recalled_on": "2025-09-01",
                                                               "reason": f"召回原因 {i}"}))
    agg.store.append(h.placement_stream(pid), events)


def slow(agg: Aggregates, readable: Any, **filters: str | None) -> list[dict[str, Any]]:
    views, _ = q.placement_page(agg, 0, None, readable, FAR_FUTURE, **filters)
    return views


def test_pages_from_the_kept_folds_equal_folding_the_whole_log(aggregates: Aggregates) -> None:
    rng = random.Random(7)
    for i in range(130):  # more than COLD_STREAMS: the first list fills the folds in bulk
        plan(aggregates, i, f"c{i % 40:03d}", rng)
    everyone = lambda state: True  # noqa: E731
    qingshui = lambda state: state.host_unit == "qingshui-township"  # noqa: E731  (a host unit's view)

    for readable in (everyone, qingshui):
        for filters in ({}, {"status": "active"}, {"status": "recalled", "home_unit": "county-finance"},
                        {"cadre_id": "c007"}, {"cadre_id": "c999"}, {"host_unit": "baima-township"}):
            expected = slow(aggregates, readable, **filters)
            for offset, limit in ((0, 10), (25, 50), (120, 100)):
                views, total = q.placement_page(aggregates, offset, limit, readable, **filters)
                assert total == len(expected), filters
                assert views == expected[offset:offset + limit], (filters, offset, limit)

    recalled = slow(aggregates, everyone, status="recalled")
    assert recalled and all(v["recall_reason"].startswith("召回原因") for v in recalled)
    assert {v["placement_id"] for v in q.placements(aggregates, cadre_id="c007")} == {"p0007", "p0047", "p0087", "p0127"}

    # later events reach the list: only the streams that changed are read again
    aggregates.store.append(h.placement_stream("p0000"), [new_event(
        "posting.PlacementRecalled", {"placement_id": "p0000", "recalled_on": "2025-10-01", "reason": "后来召回"})])
    plan(aggregates, 500, "c007", rng)
    views, total = q.placement_page(aggregates, 0, 1000, everyone)
    assert views == slow(aggregates, everyone) and total == 131
    assert next(v for v in views if v["placement_id"] == "p0000")["status"] == "recalled"
    assert len(q.placements(aggregates, cadre_id="c007")) == 5


def test_the_plan_counts_placements_by_type_and_start_year(aggregates: Aggregates) -> None:
    rng = random.Random(3)
    for i in range(60):
        plan(aggregates, i, f"c{i:03d}", rng)
    placed = q.placements(aggregates)

    counts = q.plan_against_actual(aggregates, 2025)["actual"]

    assert sum(counts.values()) == 60
    assert counts == {t: sum(v["placement_type"] == t for v in placed) for t in counts}
    assert sum(q.plan_against_actual(aggregates, 2024)["actual"].values()) == 0
    assert date(2025, 3, 1) == placed[0]["start_date"]
