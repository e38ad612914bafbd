"""The relay and the idempotent consumer through real RabbitMQ, in real service processes."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from psycopg_pool import ConnectionPool

from services.backbone.store import EventStore
from tests.conftest import new_event
from tests.support.processes import ServiceProcess, rpc_config, throwaway_vhost

APP = "tests.integration.backbone_app"


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS ledger CASCADE; DROP SCHEMA IF EXISTS tally CASCADE")
        conn.execute("CREATE SCHEMA tally; CREATE TABLE tally.applied (event_id uuid, stream text, version int)")
    with throwaway_vhost() as amqp_uri:
        yield {"AMQP_URI": amqp_uri, "FOURGATES_DB": db_url, "LOG_DIR": str(tmp_path)}


def start(env: dict[str, str], service: str) -> ServiceProcess:
    return ServiceProcess(f"{APP}:{service.capitalize()}", service, env, Path(env["LOG_DIR"])).start()


def wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.2)


def applied(db_url: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT event_id, count(*) FROM tally.applied GROUP BY event_id").fetchall()


def test_20_concurrent_rpcs_each_running_a_slow_query_are_not_serialised(env: dict[str, str]) -> None:
    ledger = start(env, "ledger")
    try:
        with ClusterRpcProxy(rpc_config(env["AMQP_URI"]), timeout=30) as rpc:
            rpc.ledger.slow_query(0.01)  # warm the pool's first connection
            began = time.monotonic()
            replies = [rpc.ledger.slow_query.call_async(0.2) for _ in range(20)]
            results = [reply.result() for reply in replies]
            elapsed = time.monotonic() - began
    finally:
        ledger.stop()

    assert results == [0.2] * 20
    # Serialised, 20 × 0.2 s would take 4 s; the pool has 10 connections, so two rounds ≈ 0.4 s.
    assert elapsed < 2.0, f"20 concurrent 0.2 s queries took {elapsed:.2f} s: the database serialises workers"


def test_killing_the_relay_mid_stream_loses_nothing_and_applies_nothing_twice(env: dict[str, str], db_url: str) -> None:
    tally = start(env, "tally")  # its queue exists before the first event is published
    ledger = start(env, "ledger")
    with ConnectionPool(db_url, min_size=1, max_size=2) as pool:
        store = EventStore(pool, "ledger")
        for i in range(300):
            store.append(f"stream-{i % 7}", [new_event(data={"i": i})])
            if i == 150:
                ledger.kill()
        ledger = start(env, "ledger")
        try:
            wait_until(lambda: len(applied(db_url)) == 300)
        finally:
            ledger.stop()
            tally.stop()

    rows = applied(db_url)
    assert len(rows) == 300
    assert all(count == 1 for _, count in rows)


def test_a_poison_event_is_parked_and_the_next_events_are_applied(env: dict[str, str], db_url: str) -> None:
    tally = start(env, "tally")
    ledger = start(env, "ledger")
    try:
        with ClusterRpcProxy(rpc_config(env["AMQP_URI"]), timeout=30) as rpc:
            rpc.ledger.append("s", "test.Happened")
            rpc.ledger.append("s", "test.Poison")
            rpc.ledger.append("s", "test.Happened")
        wait_until(lambda: len(applied(db_url)) == 2)
        with psycopg.connect(db_url) as conn:
            parked = conn.execute("SELECT type, error FROM tally.parked_messages").fetchall()
    finally:
        ledger.stop()
        tally.stop()

    assert [p[0] for p in parked] == ["test.Poison"]
    assert "this event cannot be applied" in parked[0][1]
