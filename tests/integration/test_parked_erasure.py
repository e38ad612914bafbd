"""A message reporting parked holds the event as the source's relay sent it: revealed, its personal fields and
reason in clear. The cadre's erasure destroys the source's key, which cannot reach that copy: reporting erases it
itself -- against a real PostgreSQL, through reporting's own consumer and handlers."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from services.backbone.consumer import IdempotentConsumer
from services.backbone.domain import Actor
from services.backbone.envelope import FeedCursor, Metadata, RecordedEvent, to_cloudevent
from services.backbone.vault import ERASED
from services.reporting.model import SOURCES
from services.reporting.projections import UNDERSTOOD
from services.reporting.service import apply_events_from

T0 = datetime(2025, 3, 1, tzinfo=UTC)
PLANNED = {"placement_id": "p1", "nomination_id": "n1", "cadre_id": "c1", "cadre_rank": "deputy_section",
           "placement_type": "gap_filling", "home_unit": "county-finance", "host_unit": "qingshui-township",
           "host_post": "副镇长", "post_level": "deputy_section", "posting_mode": "same_level", "term_months": 12,
           "start_date": "2025-03-01"}
PRIVATE = "家中变故（个人隐私）"


@pytest.fixture
def reporting(db_url: str, reporting_schema: str) -> Iterator[IdempotentConsumer]:
    with ConnectionPool(db_url, min_size=1, max_size=3) as pool:
        yield IdempotentConsumer(pool, reporting_schema, "reporting", {}, lambda *_: [],
                                 batch_handlers={s: apply_events_from(s) for s in SOURCES},
                                 versions={s: {t: v for t, v in UNDERSTOOD.items() if t.startswith(f"{s}.")}
                                           for s in SOURCES})


def body(n: int, stream: str, type_: str, data: dict[str, Any], version: int = 1, reason: str | None = None) -> dict[str, Any]:
    meta = Metadata(Actor("od.zhang", "organisation_department", "county-od"), f"cmd-{n}", "corr", type_.split(".")[0],
                    T0, reason=reason)
    event = RecordedEvent(uuid.uuid4(), stream, n, type_, version, data, meta, FeedCursor(1, 100 + n, 0), T0)
    return to_cloudevent(event, FeedCursor(1, 99 + n, 0) if n > 1 else None)


def parked_bodies(db_url: str, schema: str) -> str:
    with psycopg.connect(db_url) as conn:
        return str(conn.execute(f'SELECT string_agg(body, \' \') FROM "{schema}".parked_messages').fetchone()[0])


def test_a_parked_event_about_an_erased_cadre_keeps_no_personal_text(
        reporting: IdempotentConsumer, db_url: str, reporting_schema: str) -> None:
    assert reporting.receive("posting", body(1, "placement-p1", "posting.PlacementPlanned", PLANNED)) == "applied"
    # a newer payload version than reporting reads: parked, with the reason in clear as the relay revealed it
    recall = body(2, "placement-p1", "posting.PlacementRecalled",
                  {"placement_id": "p1", "recalled_on": "2025-06-01", "reason": PRIVATE}, version=2, reason=PRIVATE)
    assert reporting.receive("posting", recall) == "parked"
    other = body(3, "placement-p2", "posting.PlacementRecalled",
                 {"placement_id": "p2", "recalled_on": "2025-06-01", "reason": "另一人的原因"}, version=2)
    assert reporting.receive("posting", other) == "parked"
    assert PRIVATE in parked_bodies(db_url, reporting_schema)

    erasure = body(1, "cadre-c1", "selection.PersonalDataErased",
                   {"cadre_id": "c1", "reason": "本人申请", "erased_by": "od.zhang", "retained": {}})
    assert reporting.receive("selection", erasure) == "applied"

    kept = parked_bodies(db_url, reporting_schema)
    assert PRIVATE not in kept and ERASED in kept
    assert "另一人的原因" in kept  # another cadre's parked message is left as it was
    listed, total = reporting.parked()
    assert total == 2 and {p["type"] for p in listed} == {"posting.PlacementRecalled"}  # still there to dismiss


def test_a_parked_cadre_update_loses_what_its_version_sealed_and_keeps_its_rank_change_from_v2_on(
        reporting: IdempotentConsumer, db_url: str, reporting_schema: str) -> None:
    """A CadreUpdated v1 sealed all its changes (the rank's too), a v2 (and later) only `personal_changes`: a parked
    copy is erased as the source sealed it, so a v2 replayed after the erasure still gives the rank it changed."""
    rank = {"rank": {"old": "deputy_section", "new": "section_chief"}}
    v1 = body(1, "cadre-c1", "selection.CadreUpdated", {"cadre_id": "c1", "changes": {
        **rank, "name": {"old": "李明", "new": PRIVATE}, "fit_for_duty": "unreadable"}})  # malformed: parked
    assert reporting.receive("selection", v1) == "parked"
    newer = body(2, "cadre-c1", "selection.CadreUpdated", {"cadre_id": "c1", "changes": {"home_unit": {
        "old": "county-finance", "new": "county-audit"}}, "personal_changes": {"name": {"old": "李明", "new": PRIVATE}}},
                 version=UNDERSTOOD["selection.CadreUpdated"] + 1)  # newer than reporting reads: parked
    assert reporting.receive("selection", newer) == "parked"

    erasure = body(3, "cadre-c1", "selection.PersonalDataErased",
                   {"cadre_id": "c1", "reason": "本人申请", "erased_by": "od.zhang", "retained": {}})
    assert reporting.receive("selection", erasure) == "applied"

    kept = parked_bodies(db_url, reporting_schema)
    assert PRIVATE not in kept and "section_chief" not in kept  # v1: every change was sealed
    assert "county-audit" in kept  # v2 on: the unit change is no personal data
