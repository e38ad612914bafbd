"""Real service processes for tests: `nameko run` in a subprocess, a throw-away vhost, an RPC client."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from nameko.standalone.rpc import ClusterRpcProxy

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "nameko.yaml"
RABBIT_API = os.environ.get("RABBIT_MANAGEMENT", "http://guest:guest@127.0.0.1:15672/api")


@contextmanager
def throwaway_vhost() -> Iterator[str]:
    """A RabbitMQ vhost of its own (deleted afterwards); yields its AMQP URI."""
    name = f"fourgates_test_{uuid.uuid4().hex[:8]}"
    requests.put(f"{RABBIT_API}/vhosts/{name}", timeout=10).raise_for_status()
    requests.put(
        f"{RABBIT_API}/permissions/{name}/guest", json={"configure": ".*", "write": ".*", "read": ".*"}, timeout=10
    ).raise_for_status()
    try:
        yield f"amqp://guest:guest@127.0.0.1:{os.environ.get('RABBIT_AMQP_PORT', '5672')}/{name}"
    finally:
        requests.delete(f"{RABBIT_API}/vhosts/{name}", timeout=10)


def rpc_config(amqp_uri: str) -> dict[str, Any]:
    return {"AMQP_URI": amqp_uri, "SERIALIZER": "json", "ACCEPT": ["json"]}


class ServiceProcess:
    """One `nameko run` process; start, wait until it answers RPC, SIGKILL or stop it."""

    def __init__(self, module: str, service: str, env: dict[str, str], log_dir: Path) -> None:
        self.module, self.service, self.env, self.log_dir = module, service, env, log_dir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30, http: bool = False) -> ServiceProcess:
        """`http`: also wait for this process's own HTTP port (RPC readiness may be another replica's answer)."""
        log = open(self.log_dir / f"{self.service}.log", "ab")
        # Without PSYCOPG_WAIT_FUNC inherited from the test process: the service must make itself cooperative.
        inherited = {k: v for k, v in os.environ.items() if k != "PSYCOPG_WAIT_FUNC"}
        env = {**inherited, "FOURGATES_CHAIN_HEAD_DIR": str(self.log_dir / "chain-heads"), **self.env, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nameko", "run", self.module, "--config", str(CONFIG)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready(timeout, http)
        except BaseException:
            self.stop()  # never leave a process behind that its caller has no handle on
            raise
        return self

    def _wait_ready(self, timeout: float, http: bool = False) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.service} exited: {(self.log_dir / f'{self.service}.log').read_text()[-3000:]}")
            try:
                with ClusterRpcProxy(rpc_config(self.env["AMQP_URI"]), timeout=2) as rpc:
                    getattr(rpc, self.service).read_feed("", 1)
                if http:
                    requests.get(f"http://{self.env['WEB_SERVER_ADDRESS']}/{self.service}/health", timeout=2)
                return
            except Exception:  # noqa: BLE001  (not up yet)
                time.sleep(0.3)
        raise TimeoutError(f"{self.service} did not answer within {timeout}s")

    def kill(self) -> None:
        """SIGKILL: no cleanup, as a crash would be."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=6)  # a test needs no longer grace: anything in flight is idempotent
            except subprocess.TimeoutExpired:
                self.kill()
