"""The demo's HTTP client: commands with fixed Idempotency-Keys (retried only when that is safe), reads
and polls; and the records the demo keeps of what it did.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from rich.console import Console

from deploy import demo_data as data
from deploy.demo_data import Cadre

RETRIES = 8
console = Console()


class DemoError(RuntimeError):
    """A command was refused or a service never caught up: the demo stops and says which and why."""


@dataclass
class Counts:
    """What the commands did: new events, replayed (Idempotency-Key seen before), or nothing to change."""

    sent: int = 0
    new: int = 0
    replayed: int = 0
    unchanged: int = 0
    events: int = 0
    ballots: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, result: dict[str, Any]) -> None:
        with self.lock:
            self.sent += 1
            if result.get("replayed"):
                self.replayed += 1
            elif result.get("events"):
                self.new += 1
                self.events += len(result["events"])
            else:
                self.unchanged += 1

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("sent", "new", "replayed", "unchanged", "events", "ballots")}


class Client:
    """HTTP to the four services: commands with Idempotency-Keys (retried when safe), reads, and polls."""

    def __init__(self, urls: dict[str, str], wait_seconds: float = 90.0) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.wait_seconds = wait_seconds
        self.counts = Counts()
        self._local = threading.local()

    @property
    def http(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session  # type: ignore[no-any-return]

    def command(self, service: str, path: str, body: dict[str, Any], token: str, key: str) -> dict[str, Any]:
        """POST a command; retried with the same key on a dropped connection, 503 or a concurrent change."""
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        response = self._send("POST", service, path, json=body, headers=headers)
        result: dict[str, Any] = response.json()
        self.counts.record(result)
        return result

    def cast_ballot(self, token: str, grade: str) -> None:
        """An anonymous rater casts one ballot with a one-time token (no Authorization, no Idempotency-Key)."""
        self._send("POST", "assessment", "/assessment/ballots", json={"ballot_token": token, "grade": grade},
                   retry_conflicts=False)
        with self.counts.lock:
            self.counts.ballots += 1

    def get(self, service: str, path: str, token: str = data.READER, **params: Any) -> Any:
        return self._send("GET", service, path, params=params,
                          headers={"Authorization": f"Bearer {token}"}).json()

    def probe(self, service: str, path: str, token: str = data.READER, **params: Any) -> requests.Response | None:
        """A GET that may fail (404, service down): the response, or None when nothing answered."""
        try:
            return self.http.get(self.urls[service] + path, params=params,
                                 headers={"Authorization": f"Bearer {token}"}, timeout=10)
        except requests.RequestException:
            return None

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float | None = None) -> Any:
        """Poll `check` until it returns something true; DemoError naming `what` if it never does."""
        deadline = time.monotonic() + (timeout or self.wait_seconds)
        pause = 0.05
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise DemoError(f"gave up waiting: {what} (after {timeout or self.wait_seconds:.0f}s)")
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def _send(self, method: str, service: str, path: str, retry_conflicts: bool = True,
              **kwargs: Any) -> requests.Response:
        url = self.urls[service] + path
        problem = ""
        for attempt in range(RETRIES):
            if attempt:
                time.sleep(min(0.1 * 2 ** attempt, 3.0))
            try:
                response = self.http.request(method, url, timeout=30, **kwargs)
            except requests.RequestException as exc:
                problem = f"{service} did not answer: {exc}"
                continue
            if response.status_code in (502, 503, 504):
                problem = f"{response.status_code} {response.text[:300]}"
                continue
            if response.status_code == 409 and retry_conflicts and _rule(response) == "concurrent_change":
                problem = "409 concurrent_change"
                continue  # someone else (a timer, another replica) moved the stream on: the same key again is safe
            if response.status_code >= 400:
                if _rule(response) == "idempotency_key":
                    raise DemoError(_describe(method, path, response) + STALE_DEMO)
                raise DemoError(_describe(method, path, response))
            return response
        raise DemoError(f"{method} {path}: {problem} (after {RETRIES} attempts)")


# A demo command's fixed key was first used for another body: this database holds the demo as an earlier
# version of the scenario recorded it, and this version cannot be played over it.
STALE_DEMO = (
    "\n  This database already holds the demo as an earlier version of the scenario recorded it (the same"
    " command, a different body), so this version cannot be played over it. Nothing was changed. To see this"
    " version, play it into an empty database, e.g. `FOURGATES_DB='host=127.0.0.1 hostaddr=127.0.0.1 port=5432"
    " user=postgres dbname=fourgates_demo2' make run`, or drop the old one (`dropdb fourgates`, with the"
    " services stopped; docs/runbook.md says what to do about its exported chain heads).")


def _rule(response: requests.Response) -> str:
    try:
        return str(response.json().get("rule", ""))
    except ValueError:
        return ""


def _describe(method: str, path: str, response: requests.Response) -> str:
    try:
        body = response.json()
        return f"{method} {path} → {response.status_code} {body.get('rule', '')}: {body.get('detail', body)}"
    except ValueError:
        return f"{method} {path} → {response.status_code}: {response.text[:500]}"



@dataclass(frozen=True)
class Finalised:
    cadre: Cadre
    proposed: str | None
    final: str
    warnings: tuple[str, ...]


@dataclass
class Played:
    finalised: list[Finalised]
    phases: dict[str, float]
    seconds: float
