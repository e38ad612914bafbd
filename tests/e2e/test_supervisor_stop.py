"""Stopping the supervisor (Ctrl-C of `make run`): every process gets one SIGTERM, then the grace period,
then SIGKILL only if it still runs. A second SIGTERM made nameko stop twice over, and the log of a clean
stop ended in `AssertionError: Trying to re-send() an already-triggered event.` from its timers.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.supervise import Replica, Supervisor
from services.backbone.migrations import ensure_database
from tests.conftest import sibling_db
from tests.support.api import free_port
from tests.support.processes import throwaway_vhost

# A database of the test's own, beside the one FOURGATES_TEST_DB names (the services migrate it on start).
DB = sibling_db("supervise")
GRACE = 3.0

# Says READY, then TERM on each SIGTERM; exits the given seconds after the first one (inf: never by itself).
CHILD = """
import signal, sys, time
stop_at = None
def on_term(*_):
    global stop_at
    print("TERM", flush=True)
    stop_at = stop_at or time.monotonic() + float(sys.argv[1])
signal.signal(signal.SIGTERM, on_term)
print("READY", flush=True)
while stop_at is None or time.monotonic() < stop_at:
    time.sleep(0.02)
"""


@dataclass
class Sleeper(Replica):
    """A replica whose process is a few lines of Python that take `exit_after` seconds to stop."""

    exit_after: float = 0.0

    def command(self) -> list[str]:
        return [sys.executable, "-c", CHILD, str(self.exit_after)]

    def ready(self) -> bool:
        return self.log_path.exists() and "READY" in self.log_path.read_text()


def test_each_process_gets_one_sigterm_and_a_sigkill_only_after_the_grace_period(tmp_path: Path) -> None:
    sleepers = [Sleeper(name, 0, 0, tmp_path / f"{name}.log", exit_after=after)
                for name, after in (("quick", 0.2), ("slow", 1.5), ("stubborn", float("inf")))]
    supervisor = Supervisor({}, tmp_path)
    supervisor.replicas = list(sleepers)
    for sleeper in sleepers:
        sleeper.start()
    deadline = time.monotonic() + 20
    while not all(s.ready() for s in sleepers) and time.monotonic() < deadline:
        time.sleep(0.05)

    began = time.monotonic()
    supervisor.stop(grace=GRACE)
    took = time.monotonic() - began

    terms = {r.service: r.log_path.read_text().count("TERM") for r in supervisor.replicas}
    codes = {r.service: r.proc.returncode for r in supervisor.replicas if r.proc}
    assert terms == {"quick": 1, "slow": 1, "stubborn": 1}
    assert codes == {"quick": 0, "slow": 0, "stubborn": -9}
    assert GRACE <= took < GRACE + 2  # one grace period for all, not one after another


@pytest.fixture
def services_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Supervisor]:
    """Every service under the supervisor, as `make run` has them, on free ports, with a vhost of its own."""
    ensure_database(DB)
    with throwaway_vhost() as amqp_uri:
        monkeypatch.setenv("AMQP_URI", amqp_uri)
        monkeypatch.setenv("FOURGATES_DB", DB)
        monkeypatch.setenv("FOURGATES_CHAIN_HEAD_DIR", str(tmp_path / "chain-heads"))
        monkeypatch.delenv("PSYCOPG_WAIT_FUNC", raising=False)
        supervisor = Supervisor({"selection": 1, "posting": 1, "assessment": 1, "reporting": 1}, tmp_path / "logs")
        for replica in supervisor.replicas:
            replica.port = free_port()
        try:
            supervisor.start(timeout=90)
            yield supervisor
        finally:
            supervisor.stop(grace=5)  # at once if the test stopped them already


def test_the_services_stop_cleanly_and_promptly(services_running: Supervisor) -> None:
    began = time.monotonic()
    services_running.stop()
    took = time.monotonic() - began

    for replica in services_running.replicas:
        log = replica.log_path.read_text()
        assert replica.proc is not None and replica.proc.returncode == 0, replica.label
        assert log.count('"stopping services') == 1, f"{replica.label} was told to stop more than once"
        assert "Traceback" not in log and "re-send" not in log, log[log.find("Traceback"):][:2000]
    assert took < 10
