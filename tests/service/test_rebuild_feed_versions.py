"""A rebuild reads a source's feed in packed pages, and still reads a source that predates them (a rolling
upgrade: reporting upgraded first), with the same events either way -- real processes, RabbitMQ, PostgreSQL."""
from __future__ import annotations

from pathlib import Path

from psycopg_pool import ConnectionPool

from services.backbone.envelope import FEED_START, FeedCursor
from services.reporting.feeds import rpc_bulk_feeds, rpc_feeds
from tests.support.processes import ServiceProcess, rpc_config, throwaway_vhost
from tests.support.reporting_system import QINGSHUI, REPORTING_DB, Sources, reset_schemas


def test_pages_read_packed_from_a_current_source_and_plain_from_an_older_one(tmp_path: Path) -> None:
    reset_schemas(REPORTING_DB)
    with throwaway_vhost() as amqp_uri, ConnectionPool(REPORTING_DB, min_size=1, max_size=2) as pool:
        sources = Sources(pool)
        for n in range(30):
            sources.append("posting", f"placement-p{n % 4}", "CheckInRecorded", actor=QINGSHUI, placement_id=f"p{n % 4}",
                           checked_on="2025-07-01", thinking="思想稳定", work=f"第{n}次走访", met_by="od.zhang", notes="")
        config = rpc_config(amqp_uri)
        env = {"AMQP_URI": amqp_uri, "FOURGATES_DB": REPORTING_DB, "DB_POOL_SIZE": "2"}
        read = {}
        for kind in ("FakePosting", "LegacyPosting"):
            process = ServiceProcess(f"tests.support.reporting_system:{kind}", "posting", env, tmp_path).start()
            try:
                with rpc_bulk_feeds(config) as fetch:
                    first = fetch("posting", FEED_START, 20)
                    read[kind] = first + fetch("posting", FeedCursor.parse(first[-1]["sequence"]), 100)
                with rpc_feeds(config) as per_event:
                    expected = per_event("posting", FEED_START, 100)
            finally:
                process.stop()

    assert len(expected) == 30
    for kind, bodies in read.items():
        assert [b["id"] for b in bodies] == [b["id"] for b in expected], kind
        assert [b["data"] for b in bodies] == [b["data"] for b in expected], kind
