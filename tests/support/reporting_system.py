"""What the reporting tests share: stand-in source services (event log, relay, feed RPC — nothing else),
a county scenario appended to their logs as the real services would, and the running processes.

Holds no tests itself; `nameko run tests.support.reporting_system:FakeSelection` starts a source.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from nameko.rpc import rpc
from psycopg_pool import ConnectionPool

from services.backbone.bulkfeed import MAX_PAGE, feed_page
from services.backbone.domain import Actor
from services.backbone.envelope import FeedCursor, Metadata, NewEvent
from services.backbone.migrations import ensure_database, migrate
from services.backbone.providers import EventStoreProvider, FeedEndpoints, RelayProvider
from services.backbone.store import EventStore
from tests.conftest import sibling_db
from tests.support.api import Api, free_port
from tests.support.processes import ServiceProcess, throwaway_vhost

REPORTING_DB = os.environ.get("FOURGATES_TEST_REPORTING_DB", sibling_db("reporting"))
SOURCES = ("selection", "posting", "assessment")
SCHEMAS = (*SOURCES, "reporting")

OD = Actor("od.zhang", "organisation_department", "county-od")
PC = Actor("pc.chen", "party_committee", "county-pc")
FINANCE = Actor("finance.liu", "sending_unit", "county-finance")
QINGSHUI = Actor("qingshui.wu", "host_unit", "qingshui-township")
HR = Actor("hr.sync", "integration", "county-hr")
SYSTEM = Actor("service:posting", "integration", None)


class FakeSelection(FeedEndpoints):
    """The selection service's log, relay and feed, publishing whatever a test appends."""

    name = "selection"
    store = EventStoreProvider()
    relay = RelayProvider()


class FakePosting(FeedEndpoints):
    name = "posting"
    store = EventStoreProvider()
    relay = RelayProvider()


class FakeAssessment(FeedEndpoints):
    name = "assessment"
    store = EventStoreProvider()
    relay = RelayProvider()


class LegacyPosting(FakePosting):
    """Posting as it answered before feed pages travelled packed: `read_feed_page` without `packed`."""

    @rpc
    def read_feed_page(self, after: str = "", limit: int = 2000) -> str:  # type: ignore[override]
        return feed_page(self.store, FeedCursor.parse(after), min(int(limit), MAX_PAGE))


@dataclass
class Sources:
    """Appends events to the source services' logs, one command (and transaction) per call."""

    pool: ConnectionPool
    appended: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SOURCES, 0))

    def append(self, source: str, stream: str, type_: str, actor: Actor = OD, why: str | None = None,
               correlation_id: str | None = None, **data: Any) -> str:
        command = str(uuid.uuid4())
        meta = Metadata(actor, command, correlation_id or command, source, datetime.now(UTC), reason=why)
        event = NewEvent(uuid.uuid4(), f"{source}.{type_}", 1, data, meta)
        EventStore(self.pool, source).append(stream, [event])
        self.appended[source] += 1
        return str(event.event_id)

    @property
    def total(self) -> int:
        return sum(self.appended.values())


def reset_schemas(db: str) -> None:
    ensure_database(db)
    with psycopg.connect(db, autocommit=True) as conn:
        for schema in SCHEMAS:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    for source in SOURCES:
        migrate(db, source)


def side_by_side(processes: list[ServiceProcess], action: str) -> None:
    """Start (or stop) processes at once: each takes seconds to answer its first RPC, or to stop."""
    errors: list[BaseException] = []

    def act(process: ServiceProcess) -> None:
        try:
            process.start(timeout=60) if action == "start" else process.stop()
        except BaseException as exc:  # noqa: BLE001  (reported below, after every process finished)
            errors.append(exc)

    threads = [threading.Thread(target=act, args=(p,)) for p in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@dataclass
class Running:
    api: Api
    db: str
    amqp_uri: str
    sources: Sources
    env: dict[str, str]
    logs: Path


@contextmanager
def running_system(logs: Path, db: str = REPORTING_DB) -> Iterator[Running]:
    """Fresh source schemas, the three stand-in sources and a real reporting process, on a vhost of their own."""
    reset_schemas(db)
    port = free_port()
    with throwaway_vhost() as amqp_uri, ConnectionPool(db, min_size=1, max_size=4) as pool:
        env = {"AMQP_URI": amqp_uri, "FOURGATES_DB": db, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
               "FOURGATES_RELAY_POLL_SECONDS": "0.05", "DB_POOL_SIZE": "4"}
        support = "tests.support.reporting_system"
        processes = [ServiceProcess(f"{support}:Fake{s.title()}", s, env, logs) for s in SOURCES]
        processes.append(ServiceProcess("services.reporting.service", "reporting", env, logs))
        try:
            side_by_side(processes, "start")  # if one fails to start, the others are stopped below all the same
            yield Running(Api(f"http://127.0.0.1:{port}"), db, amqp_uri, Sources(pool), env, logs)
        finally:
            side_by_side(processes, "stop")


def wait_until_projected(db: str, expected: int, schema: str = "reporting", timeout: float = 30) -> None:
    """Block until the timeline holds `expected` events (every event appended so far)."""
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        with psycopg.connect(db) as conn:
            seen = conn.execute(f'SELECT count(*) FROM "{schema}".timeline').fetchone()[0]  # type: ignore[index]
        if seen >= expected:
            return
        time.sleep(0.1)
    raise TimeoutError(f"only {seen} of {expected} events reached {schema}.timeline in {timeout}s")
