"""An erasure and another source's new row version for the same cadre, applied at the same moment in
reporting's read models (each source has its own consumer transactions): whichever commits second must
see the other, so that no copy of the personal data survives the erasure -- against a real PostgreSQL."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from services.backbone.vault import ERASED
from services.reporting.model import SourceEvent
from services.reporting.readmodel import ReadModels

T0 = datetime(2025, 3, 1, tzinfo=UTC)
PLANNED = {"placement_id": "p1", "nomination_id": "n1", "cadre_id": "c1", "cadre_rank": "deputy_section",
           "placement_type": "gap_filling", "home_unit": "county-finance", "host_unit": "qingshui-township",
           "host_post": "副镇长", "post_level": "deputy_section", "posting_mode": "same_level", "term_months": 12,
           "start_date": "2025-03-01"}


def event(n: int, type_: str, **data: Any) -> SourceEvent:
    meta = {"actor": {"principal": "od.zhang", "role": "organisation_department", "unit": "county-od"},
            "correlation_id": "corr", "command_id": f"cmd-{n}", "occurred_at": T0.isoformat(), "reason": "因为"}
    return SourceEvent(type_.split(".")[0], str(uuid.uuid4()), type_, 1, "s", n, (1, n, n), T0 + timedelta(days=n),
                       data, meta)


def test_an_erasure_racing_a_recall_of_the_same_cadre_leaves_no_reason_behind(db_url: str, reporting_schema: str) -> None:
    models = ReadModels(reporting_schema)
    with psycopg.connect(db_url) as conn:
        models.apply(conn, [event(1, "posting.PlacementPlanned", **PLANNED)])
    recall = event(2, "posting.PlacementRecalled", placement_id="p1", recalled_on="2025-06-01", reason="家中变故（个人隐私）")
    erasure = event(3, "selection.PersonalDataErased", cadre_id="c1")

    with psycopg.connect(db_url) as posting, psycopg.connect(db_url) as selection:
        assert models.apply(posting, [recall]) == []  # posting's transaction: written, not committed yet
        erased = threading.Thread(target=lambda: (models.apply(selection, [erasure]), selection.commit()))
        erased.start()
        time.sleep(0.5)  # selection's erasure runs meanwhile (without the locks it would commit now)
        posting.commit()
        erased.join(timeout=30)
        assert not erased.is_alive()

    with psycopg.connect(db_url) as conn:
        reasons = conn.execute(f'SELECT version, recall_reason FROM "{reporting_schema}".placements ORDER BY version').fetchall()
    assert reasons == [(1, ERASED), (2, ERASED)]
