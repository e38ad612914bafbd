"""A real selection process (with a stand-in assessment feed) on a database of the test's choosing."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from services.backbone.migrations import ensure_database
from tests.support.api import Api, free_port
from tests.support.processes import ServiceProcess, throwaway_vhost

POLICY = {"version": "county-2025", "effective_from": "2025-01-01",
          "age_caps": {"clerk": 35, "deputy_section": 40, "section_chief": 40}, "reserve_preferred": True}


@contextmanager
def running_selection(db: str, logs: Path, before_start: Callable[[str], Any] | None = None) -> Iterator[dict[str, Any]]:
    """Fresh selection/assessment schemas, a throw-away vhost, selection and a fake assessment running,
    the 2025 eligibility policy adopted. `before_start(amqp_uri)` runs before any process starts (e.g. to
    bind a queue, as a subscriber would); what it returns is yielded as `before`."""
    ensure_database(db)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS selection CASCADE; DROP SCHEMA IF EXISTS assessment CASCADE")
    port = free_port()
    with throwaway_vhost() as amqp_uri:
        before = before_start(amqp_uri) if before_start else None
        env = {"AMQP_URI": amqp_uri, "FOURGATES_DB": db, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}
        process = ServiceProcess("services.selection.service", "selection", env, logs).start()
        source = ServiceProcess("tests.service.fake_sources:FakeAssessment", "assessment", env, logs).start()
        try:
            api = Api(f"http://127.0.0.1:{port}")
            adopted = api.post("/selection/policies", POLICY, "od", **{"Idempotency-Key": "policy-2025"})
            assert adopted.status_code in (200, 201), adopted.text
            yield {"api": api, "amqp_uri": amqp_uri, "db": db, "before": before}
        finally:
            source.stop()
            process.stop()
