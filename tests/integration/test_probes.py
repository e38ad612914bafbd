"""The probes of a real service process: with its broker gone, /health answers 503 (take it out of the Service)
while /live still answers 200 (do not restart it: a restart cannot bring the broker back)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from tests.support.api import free_port
from tests.support.processes import RABBIT_API, ServiceProcess, throwaway_vhost


@pytest.fixture
def selection(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A selection process on a vhost of its own; yields its base URL and the vhost's name."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS selection CASCADE")
    port = free_port()
    with throwaway_vhost() as amqp_uri:
        env = {"AMQP_URI": amqp_uri, "FOURGATES_DB": db_url, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}
        process = ServiceProcess("services.selection.service", "selection", env, tmp_path).start(http=True)
        try:
            yield f"http://127.0.0.1:{port}", amqp_uri.rsplit("/", 1)[1]
        finally:
            process.stop()


def test_a_broker_outage_makes_a_replica_unready_but_never_restarts_it(selection: tuple[str, str]) -> None:
    base, vhost = selection
    assert requests.get(f"{base}/selection/health", timeout=10).status_code == 200
    live = requests.get(f"{base}/selection/live", timeout=10)
    assert live.status_code == 200 and live.json() == {"status": "alive", "service": "selection"}

    requests.delete(f"{RABBIT_API}/vhosts/{vhost}", timeout=10).raise_for_status()  # the broker is away for it

    deadline = time.monotonic() + 20
    while (health := requests.get(f"{base}/selection/health", timeout=10)).status_code == 200:
        assert time.monotonic() < deadline, "/health still answers 200 without the broker"
        time.sleep(0.2)
    assert health.status_code == 503 and health.json()["broker"].startswith("unavailable")
    for _ in range(5):  # and it stays so: a liveness probe on /live never restarts it
        live = requests.get(f"{base}/selection/live", timeout=10)
        assert live.status_code == 200 and live.json()["status"] == "alive"
        time.sleep(0.5)
    assert requests.get(f"{base}/selection/live", headers={"Authorization": "Bearer not-a-token"}, timeout=10).ok
