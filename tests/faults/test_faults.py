"""Faults under a steady stream of commands through the HTTP API (real processes, PostgreSQL, RabbitMQ).

After each fault: every command that got a 2xx has its events exactly once, every refused command has
none, every approval reached posting exactly once, reporting applied every event of every source exactly
once, nothing was parked, and reporting's read models equal a rebuild from scratch, row for row.
"""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from services.backbone.migrations import ensure_database
from tests.conftest import sibling_db
from tests.faults.harness import CommandStream, assert_nothing_lost_or_doubled, assert_reporting_equals_a_rebuild
from tests.support.api import free_port
from tests.support.processes import ServiceProcess, throwaway_vhost
from tests.support.reporting_system import side_by_side

# Overridable so the faults can be aimed at a PostgreSQL cluster and a RabbitMQ node of their own
# (the outages then leave other test runs on the machine alone); CI uses the machine's own.
DB = os.environ.get("FOURGATES_FAULTS_DB", sibling_db("faults"))
PG_CLUSTER = os.environ.get("FOURGATES_FAULTS_PG_CLUSTER", "")  # "<version> <name>"; default: the newest, main
RABBIT_NODE = os.environ.get("FOURGATES_FAULTS_RABBIT_NODE", "")  # e.g. faults@localhost; default: the local node
# Assessment is not driven, but reporting consumes its feed: a rebuild reads it, as does reporting's catch-up.
SERVICES = ("selection", "posting", "assessment", "reporting")
VICTIMS = ("selection", "posting", "reporting")
pytestmark = pytest.mark.faults


@pytest.fixture
def system(tmp_path: Path) -> Iterator[dict[str, Any]]:
    ensure_database(DB)
    with psycopg.connect(DB, autocommit=True) as conn:
        for schema in SERVICES:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    with throwaway_vhost() as amqp_uri:
        ports = {service: free_port() for service in SERVICES}
        processes = {
            service: ServiceProcess(f"services.{service}.service", service,
                                    {"AMQP_URI": amqp_uri, "FOURGATES_DB": DB,
                                     "WEB_SERVER_ADDRESS": f"127.0.0.1:{ports[service]}"}, tmp_path)
            for service in SERVICES
        }
        side_by_side(list(processes.values()), "start")
        base = f"http://127.0.0.1:{ports['selection']}"
        policy: dict[str, Any] = {"version": "faults-2025", "effective_from": "2020-01-01", "age_caps": {"deputy_section": 45}}
        requests.post(base + "/selection/policies", json=policy, timeout=10,
                      headers={"Authorization": "Bearer dev-od-zhang"}).raise_for_status()
        try:
            yield {"processes": processes, "base": base, "amqp_uri": amqp_uri}
        finally:
            side_by_side(list(processes.values()), "stop")


def assert_survived(system: dict[str, Any], stream: CommandStream, timeout: float = 90) -> None:
    """What must hold after any fault: the commands' events, posting's and reporting's, each exactly once."""
    assert_nothing_lost_or_doubled(stream, DB, timeout)
    assert_reporting_equals_a_rebuild(DB, system["amqp_uri"], timeout=120)


def under_load(system: dict[str, Any], fault: Any, settle: float = 3.0) -> CommandStream:
    stream = CommandStream(system["base"])
    thread = stream.start()
    time.sleep(settle)
    fault()
    time.sleep(settle)
    stream.stop.set()
    thread.join(timeout=150)
    return stream


@pytest.mark.parametrize("victim", VICTIMS)
def test_sigkill_of_a_service_loses_and_doubles_nothing(system: dict[str, Any], victim: str) -> None:
    process = system["processes"][victim]

    def kill_and_restart() -> None:
        process.kill()
        time.sleep(3)
        process.start()

    stream = under_load(system, kill_and_restart)

    assert len(stream.accepted()) > 10
    assert_survived(system, stream)


def test_rabbitmq_stopped_for_ten_seconds(system: dict[str, Any]) -> None:
    def broker_outage() -> None:
        node = ["-n", RABBIT_NODE] if RABBIT_NODE else []
        subprocess.run(["rabbitmqctl", *node, "stop_app"], check=True, capture_output=True)
        try:
            time.sleep(10)
        finally:
            subprocess.run(["rabbitmqctl", *node, "start_app"], check=True, capture_output=True)

    stream = under_load(system, broker_outage)

    statuses = {o.status for o in stream.outcomes}
    assert statuses <= {200, 201, 503}, statuses
    assert_survived(system, stream, timeout=120)


def test_postgresql_restarted(system: dict[str, Any]) -> None:
    version, name = (PG_CLUSTER or f"{sorted(os.listdir('/etc/postgresql'))[-1]} main").split()

    def database_restart() -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "restart"], check=True,
                       capture_output=True)

    stream = under_load(system, database_restart)

    statuses = {o.status for o in stream.outcomes}
    assert statuses <= {200, 201, 503}, statuses
    assert any(o.status < 300 for o in stream.outcomes[-5:]), "the service did not recover without a restart"
    health = requests.get(system["base"] + "/selection/health", timeout=10).json()
    assert health["database"] == "ok"
    assert_survived(system, stream, timeout=120)
