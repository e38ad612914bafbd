"""Local process supervisor: every service in its own process (any number of replicas), restarted
if it dies, stopped cleanly on Ctrl-C. Used by `make run` and usable by tests.

    python -m deploy.supervise                       # one process per service
    python -m deploy.supervise --replicas posting=3  # three posting processes
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import requests
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "nameko.yaml"
SERVICES = {"selection": 8001, "posting": 8002, "assessment": 8003, "reporting": 8004}
console = Console()


def available_services() -> list[str]:
    """The services whose code exists in this checkout, in gate order."""
    return [name for name in SERVICES if (ROOT / "services" / name / "service.py").exists()]


@dataclass
class Replica:
    service: str
    index: int
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)
    terminated: bool = False  # SIGTERM sent to the current process

    @property
    def label(self) -> str:
        return f"{self.service}#{self.index}"

    def command(self) -> list[str]:
        """What the replica runs: its service under `nameko run`."""
        return [sys.executable, "-m", "nameko", "run", f"services.{self.service}.service", "--config", str(CONFIG)]

    def start(self) -> None:
        env = {**os.environ, "WEB_SERVER_ADDRESS": f"127.0.0.1:{self.port}", "PYTHONPATH": str(ROOT)}
        with open(self.log_path, "ab") as log:  # the process writes to its own copy of the descriptor
            self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.started_at = time.monotonic()
        self.terminated = False

    def healthy(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/{self.service}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM), once: nameko stops again on a second SIGTERM while it is stopping."""
        if self.proc is not None and self.proc.poll() is None and not self.terminated:
            self.proc.send_signal(signal.SIGTERM)
            self.terminated = True

    def stop(self, grace: float = 15) -> None:
        """SIGTERM (unless already sent), up to `grace` seconds to finish, then SIGKILL if it still runs."""
        self.terminate()
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def port_in_use(port: int) -> bool:
    """Does a process listen on 127.0.0.1:`port` already? (A port left in TIME_WAIT is free.)"""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


class Supervisor:
    """Starts replicas, waits for their health endpoints, restarts any that exit."""

    def __init__(self, replicas: dict[str, int], log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.replicas = [
            Replica(service, i, SERVICES[service] + 10 * i, log_dir / f"{service}-{i}.log")
            for service, count in replicas.items() for i in range(count)
        ]

    def start(self, timeout: float = 90) -> None:
        # Something else on a replica's port (an earlier `make run` still running, or its services left behind)
        # would answer its health checks: this run would take those services for its own while its own crash.
        taken = [r for r in self.replicas if port_in_use(r.port)]
        if taken:
            raise click.ClickException(
                "already in use: " + ", ".join(f"port {r.port} ({r.label})" for r in taken)
                + ". Is `make run` running elsewhere? Stop it first (`ss -ltnp` names the process).")
        for replica in self.replicas:
            replica.start()
        deadline = time.monotonic() + timeout
        pending = list(self.replicas)
        with console.status("starting services…"):
            while pending and time.monotonic() < deadline:
                self.watch()
                pending = [r for r in pending if not r.healthy()]
                time.sleep(0.5)
        if pending:
            raise click.ClickException(
                "not healthy in time: " + ", ".join(f"{r.label} (log {r.log_path})" for r in pending))

    def watch(self) -> None:
        """Restart any replica that exited (with a short back-off)."""
        for replica in self.replicas:
            if replica.proc is not None and replica.proc.poll() is not None:
                console.print(f"[yellow]{replica.label} exited with {replica.proc.returncode}; restarting[/]")
                time.sleep(min(5, 1 + replica.restarts))
                replica.restarts += 1
                replica.start()

    def stop(self, grace: float = 15) -> None:
        """SIGTERM to every replica at once, then up to `grace` seconds in all for them to finish (a slow one
        does not hold the others up), then SIGKILL to any still running. Each process is signalled once."""
        for replica in self.replicas:
            replica.terminate()
        deadline = time.monotonic() + grace
        for replica in self.replicas:
            replica.stop(grace=max(0.0, deadline - time.monotonic()))

    def addresses(self) -> dict[str, str]:
        return {r.label: f"http://127.0.0.1:{r.port}/{r.service}" for r in self.replicas}


def parse_replicas(values: tuple[str, ...], services: list[str]) -> dict[str, int]:
    counts = {service: 1 for service in services}
    for value in values:
        name, _, count = value.partition("=")
        if name not in counts or not count.isdigit() or int(count) < 1:
            raise click.BadParameter(f"{value!r}: expected <service>=<n> with service one of {', '.join(counts)}")
        counts[name] = int(count)
    return counts


@click.command()
@click.option("--replicas", multiple=True, help="service=N, e.g. --replicas posting=3")
@click.option("--log-dir", default=str(ROOT / "var" / "log"), show_default=True, type=click.Path())
@click.option("--then", "then_module", default=None, help="a module to run once all are healthy (e.g. the demo)")
def main(replicas: tuple[str, ...], log_dir: str, then_module: str | None) -> None:
    """Run every service of Four Gates locally until Ctrl-C."""
    supervisor = Supervisor(parse_replicas(replicas, available_services()), Path(log_dir))
    # Stop cleanly on Ctrl-C, on SIGTERM and when the terminal closes (SIGHUP: the services, in sessions of
    # their own, never see it), even when started in the background (SIGINT ignored there).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.default_int_handler)
    try:
        supervisor.start()
        for label, address in supervisor.addresses().items():
            console.print(f"[green]●[/] {label:<14} {address}")
        if then_module:
            subprocess.run([sys.executable, "-m", then_module], cwd=ROOT, check=False)
        console.print("Running. Press Ctrl-C to stop.")
        while True:
            supervisor.watch()
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second one must not abandon the stop
            signal.signal(signum, signal.SIG_IGN)
        supervisor.stop()
        console.print("all services stopped")


if __name__ == "__main__":
    main()
