"""The local supervisor (`make run`) without the services: processes that say READY stand in for them."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click
import pytest

from deploy.supervise import ROOT, Replica, Supervisor

# Prints its pid and READY; exits on SIGTERM.
CHILD = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(os.getpid(), "READY", flush=True)
while True:
    time.sleep(0.05)
"""

# `python -m deploy.supervise` as `make run` starts it, with one READY process instead of the services.
DRIVER = f"""
import sys
from pathlib import Path
import deploy.supervise as s

class Sleeper(s.Replica):
    def command(self):
        return [sys.executable, "-c", {CHILD!r}]
    def healthy(self):
        return self.log_path.exists() and "READY" in self.log_path.read_text()

class Fake(s.Supervisor):
    def __init__(self, replicas, log_dir):
        super().__init__({{}}, log_dir)
        self.replicas = [Sleeper("sleeper", 0, 0, Path(log_dir) / "sleeper-0.log")]

s.Supervisor = Fake
s.main(["--log-dir", sys.argv[1]])
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_the_supervisor_stops_its_processes_when_it_is_told_to_or_its_terminal_closes(tmp_path: Path,
                                                                                      signum: int) -> None:
    """Closing the terminal of `make run` sends SIGHUP: the services run in sessions of their own, so they
    never see it; the supervisor must stop them as on Ctrl-C, not die and leave them holding the ports."""
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    log = tmp_path / "sleeper-0.log"
    pid = 0
    try:
        deadline = time.monotonic() + 30
        while not (log.exists() and "READY" in log.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = int(log.read_text().split()[0])
        time.sleep(0.5)  # the supervisor is past its start, in its watch loop
        driver.send_signal(signum)
        out, _ = driver.communicate(timeout=20)
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid), f"the supervisor exited ({driver.returncode}) and left its process running:\n{out}"
        assert "all services stopped" in out, out
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        if pid and alive(pid):
            os.kill(pid, signal.SIGKILL)


class Sleeper(Replica):
    def command(self) -> list[str]:
        return [sys.executable, "-c", CHILD]


@pytest.fixture
def answering_port() -> Iterator[int]:
    """A port where something else already answers 200 to every GET (a `make run` started earlier)."""

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_a_second_run_on_ports_in_use_says_so_instead_of_taking_the_first_runs_services_for_its_own(
        tmp_path: Path, answering_port: int) -> None:
    supervisor = Supervisor({}, tmp_path)
    supervisor.replicas = [Sleeper("sleeper", 0, answering_port, tmp_path / "sleeper-0.log")]
    try:
        with pytest.raises(click.ClickException, match=str(answering_port)):
            supervisor.start(timeout=5)
        assert all(r.proc is None for r in supervisor.replicas), "nothing is started on a port in use"
    finally:
        supervisor.stop(grace=2)
