"""Scaling out changes nothing: the same command stream through the HTTP API, once against one process
per service and once with two replicas each of posting and reporting (requests spread round-robin
over the replicas' ports), gives the same events in every service, the same reporting read models,
no consumer effect twice and nothing missing.

Each run has a database and a RabbitMQ vhost of its own. The stream is `bench.e2e.journey`: fixed ids
and Idempotency-Keys, cadres played side by side, each cadre's commands in order. Posting's overdue
scanner runs every second on every replica (every fourth placement is overdue), so two replicas race
to raise the same alert; exactly one must result.
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from psycopg_pool import ConnectionPool

from bench.e2e import Step, fails_inspection, is_stale, journey, setup_steps
from deploy.supervise import Supervisor
from services.backbone.migrations import ensure_database
from services.backbone.vault import MARKER, Vault
from tests.conftest import sibling_db
from tests.support.api import free_port
from tests.support.consumed import backlog
from tests.support.processes import throwaway_vhost

DBS = {"one": sibling_db("replicas1"), "two": sibling_db("replicas2")}
SERVICES = ("selection", "posting", "assessment", "reporting")
SOURCES = ("selection", "posting", "assessment")
# Who consumes whose events (each consumer's inbox holds every event of its sources, once).
SUBSCRIPTIONS = {"selection": ("assessment",), "posting": ("selection",), "assessment": ("selection", "posting"),
                 "reporting": SOURCES}
CADRES = 16
WORKERS = 6
PREFIX = "rep"
# How long an event may take to reach a consumer here. Normally well under a second, but a service whose
# connection pool is exhausted stalls for 5 s at a time (docs/bench-e2e.md), and the feed waits for the
# oldest writing transaction of the whole PostgreSQL cluster (docs/runbook.md), which other databases'
# work on a shared machine can hold open for minutes.
WAIT = 150
# Read-model columns that depend on when or in which transaction something happened, not on what happened.
VOLATILE = {"era", "tx_id", "position", "command_id", "correlation_id", "causation_id"}
VOLATILE_TYPES = {"timestamp with time zone", "timestamp without time zone", "uuid", "xid8"}
BACKBONE = {"events", "feed_era", "relay_checkpoint", "consumer_inbox", "consumer_cursor", "parked_messages",
            "audit_chain", "person_keys", "erased_subjects", "schema_migrations"}


class RoundRobin:
    """Every request to a service goes to its next replica's port."""

    def __init__(self, urls: dict[str, list[str]]) -> None:
        self._cycles = {service: itertools.cycle(addresses) for service, addresses in urls.items()}
        self._lock = threading.Lock()
        self.local = threading.local()

    def url(self, service: str, path: str) -> str:
        with self._lock:
            return next(self._cycles[service]) + path

    @property
    def http(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session  # type: ignore[no-any-return]


@contextmanager
def running(db: str, replicas: dict[str, int], root: Path) -> Iterator[dict[str, list[str]]]:
    """Every service under the supervisor, on free ports, with its own database and vhost."""
    ensure_database(db)
    with psycopg.connect(db, autocommit=True) as conn:
        for schema in SERVICES:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    with throwaway_vhost() as amqp_uri, pytest.MonkeyPatch.context() as env:
        env.setenv("AMQP_URI", amqp_uri)
        env.setenv("FOURGATES_DB", db)
        env.setenv("FOURGATES_CHAIN_HEAD_DIR", str(root / "chain-heads"))
        env.setenv("FOURGATES_CHECKIN_SCAN_SECONDS", "1")
        env.setenv("FOURGATES_CHECKIN_MAX_DAYS", "90")
        env.delenv("PSYCOPG_WAIT_FUNC", raising=False)
        supervisor = Supervisor(replicas, root / "logs")
        for replica in supervisor.replicas:
            replica.port = free_port()
        try:
            supervisor.start(timeout=90)
            urls: dict[str, list[str]] = {}
            for replica in supervisor.replicas:
                urls.setdefault(replica.service, []).append(f"http://127.0.0.1:{replica.port}")
            yield urls
        finally:
            supervisor.stop()


def horizon(db: str) -> str:
    """The oldest writing transaction in the cluster: what holds every service's feed back."""
    with psycopg.connect(db) as conn:
        row = conn.execute(
            "SELECT datname, pid, now() - xact_start, state, left(query, 120) FROM pg_stat_activity"
            " WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() ORDER BY xact_start LIMIT 1").fetchone()
    return f"oldest writing transaction in the cluster: {row}" if row else "no writing transaction open in the cluster"


class Driver:
    """Sends steps like a careful HR system: the same key again on a dropped connection, 503 or 409 concurrent_change."""

    def __init__(self, rr: RoundRobin, db: str) -> None:
        self.rr, self.db = rr, db
        self.results: list[tuple[Step, int, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def send(self, step: Step) -> dict[str, Any]:
        if step.after is not None:
            self.wait_for(step)
        deadline = time.monotonic() + 60
        while True:
            try:
                response = self.rr.http.post(self.rr.url(step.service, step.path), json=step.body,
                                             headers=step.headers(), timeout=30)
            except requests.RequestException:
                assert time.monotonic() < deadline, f"{step.path}: no answer"
                time.sleep(0.2)
                continue
            retry = response.status_code == 503 or (
                response.status_code == 409 and response.json().get("rule") == "concurrent_change")
            if retry and step.key is not None and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            assert response.status_code in (200, 201), f"{step.kind} {step.path} → {response.status_code} {response.text}"
            body: dict[str, Any] = response.json()
            with self.lock:
                self.results.append((step, response.status_code, body))
            return body

    def wait_for(self, step: Step) -> None:
        probe = step.after
        assert probe is not None
        deadline = time.monotonic() + WAIT
        while True:
            response = self.rr.http.get(self.rr.url(probe.service, probe.path),
                                        headers={"Authorization": "Bearer dev-auditor"}, timeout=30)
            if probe.satisfied(response.status_code, response.json() if response.content else None):
                return
            assert time.monotonic() < deadline, f"{probe.path} never became ready for {step.kind}; {horizon(self.db)}"
            time.sleep(0.1)

    def play(self, steps: list[Step]) -> None:
        for step in steps:
            result = self.send(step)
            if step.then is not None:
                followups = step.then(result)
                assert followups, f"{step.kind} gave nothing to follow up: {result}"
                for followup in followups:
                    self.send(followup)


def drive(urls: dict[str, list[str]], db: str, today: date) -> Driver:
    driver = Driver(RoundRobin(urls), db)
    for step in setup_steps(PREFIX):
        driver.send(step)
    with ThreadPoolExecutor(WORKERS) as pool:
        for future in [pool.submit(driver.play, journey(PREFIX, n, today)) for n in range(CADRES)]:
            future.result()
    return driver


def counts(db: str) -> dict[str, Any]:
    """Events per service, events each consumer has applied per source, events of its subscriptions each
    has yet to apply, overdue alerts raised."""
    with psycopg.connect(db) as conn:
        events = {s: conn.execute(f"SELECT count(*) FROM {s}.events").fetchone()[0] for s in SERVICES}  # type: ignore[index]
        inbox = {(consumer, source): n for consumer in SERVICES for source, n in conn.execute(
            f"SELECT source, count(*) FROM {consumer}.consumer_inbox GROUP BY source").fetchall()}
        behind = backlog(conn)
        overdue = conn.execute("SELECT count(*) FROM posting.events WHERE type = 'posting.CheckInOverdue'").fetchone()[0]  # type: ignore[index]
    return {"events": events, "inbox": inbox, "behind": behind, "overdue": overdue}


def settle(db: str, timeout: float = WAIT) -> dict[str, Any]:
    """Wait until every consumer has applied every event it subscribes to, the overdue alerts are raised,
    and nothing changed for two seconds."""
    expected_overdue = sum(1 for n in range(CADRES) if is_stale(n) and not fails_inspection(n))
    deadline = time.monotonic() + timeout
    previous: dict[str, Any] = {}
    while True:
        now = counts(db)
        caught_up = not any(now["behind"].values()) and set(now["behind"]) == {
            (consumer, source) for consumer, sources in SUBSCRIPTIONS.items() for source in sources}
        if now == previous and caught_up and now["overdue"] == expected_overdue:
            return now
        assert time.monotonic() < deadline, f"never settled: {now} (expected {expected_overdue} overdue alerts); {horizon(db)}"
        previous = now
        time.sleep(2)


def revealed(vault: Vault, data: dict[str, Any]) -> dict[str, Any]:
    """Personal fields are sealed under random keys and nonces: compare their plaintext."""
    if any(isinstance(v, dict) and MARKER in v for v in data.values()):
        return vault.reveal(data)
    return data


def event_log(db: str) -> dict[str, Counter[tuple[str, int, str, str]]]:
    """Per service, the multiset of (stream, version, type, data) of its events."""
    logs: dict[str, Counter[tuple[str, int, str, str]]] = {}
    with ConnectionPool(db, min_size=1, max_size=2, open=True) as pool, pool.connection() as conn:
        for schema in SERVICES:
            rows = conn.execute(f"SELECT stream, version, type, data FROM {schema}.events").fetchall()
            vault = Vault(pool, schema)
            logs[schema] = Counter((stream, version, type_, json.dumps(revealed(vault, data), sort_keys=True,
                                                                        ensure_ascii=False))
                                   for stream, version, type_, data in rows)
    return logs


def read_models(db: str) -> dict[str, Counter[str]]:
    """Reporting's tables, each a multiset of rows without the columns that record when, not what."""
    tables: dict[str, Counter[str]] = {}
    with psycopg.connect(db) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'reporting' ORDER BY table_name, ordinal_position").fetchall()
        kept: dict[str, list[str]] = {}
        for table, column, type_ in columns:
            kept.setdefault(table, [])
            if table not in BACKBONE and column not in VOLATILE and type_ not in VOLATILE_TYPES:
                kept[table].append(column)
        for table, names in kept.items():
            if table in BACKBONE or not names:
                continue
            rows = conn.execute(f"SELECT {', '.join(names)} FROM reporting.{table}").fetchall()
            tables[table] = Counter(json.dumps(list(r), sort_keys=True, default=str, ensure_ascii=False) for r in rows)
    return tables


def duplicates_and_gaps(db: str, driver: Driver) -> None:
    """Every command's events stored once; every approval recorded once in posting; nothing parked."""
    with psycopg.connect(db) as conn:
        for schema in SERVICES:
            assert conn.execute(f"SELECT count(*) FROM {schema}.parked_messages").fetchone() == (0,), schema
        by_service: dict[str, set[str]] = {}
        for schema in SERVICES:
            by_service[schema] = {str(r[0]) for r in conn.execute(f"SELECT event_id FROM {schema}.events")}
        for step, _, result in driver.results:
            for event in result.get("events", []):
                assert str(event["id"]) in by_service[step.service], f"{step.kind}: event {event['id']} missing"
        approved = {r[0] for r in conn.execute(
            "SELECT data->>'nomination_id' FROM selection.events WHERE type = 'selection.NominationApproved'")}
        recorded = [r[0] for r in conn.execute(
            "SELECT data->>'nomination_id' FROM posting.events WHERE type = 'posting.NominationRecorded'")]
        assert sorted(recorded) == sorted(approved), "posting recorded an approval twice, or missed one"
        overdue = [r[0] for r in conn.execute(
            "SELECT stream FROM posting.events WHERE type = 'posting.CheckInOverdue'")]
        assert len(overdue) == len(set(overdue)), f"an overdue alert raised twice: {Counter(overdue).most_common(3)}"
        timeline = conn.execute("SELECT source, count(*) FROM reporting.timeline GROUP BY source").fetchall()
        events = {s: conn.execute(f"SELECT count(*) FROM {s}.events").fetchone()[0] for s in SOURCES}  # type: ignore[index]
        assert dict(timeline) == events, "reporting's timeline is not every source event exactly once"


def snapshot(db: str, urls: dict[str, list[str]], driver: Driver) -> dict[str, Any]:
    settle(db)
    duplicates_and_gaps(db, driver)
    summaries = []
    for url in urls["reporting"]:  # every replica answers from the same read models
        response = requests.get(url + "/reporting/placements/summary", params={"by": "placement_type,status"},
                                headers={"Authorization": "Bearer dev-auditor"}, timeout=30)
        assert response.status_code == 200, response.text
        summaries.append(response.json()["items"])
    assert all(s == summaries[0] for s in summaries)
    return {"events": event_log(db), "read_models": read_models(db), "summary": summaries[0],
            "commands": len(driver.results)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    today = datetime.now(UTC).date()  # one date for both runs (only the overdue alerts' own date could still differ at midnight)
    for name, replicas in (("one", dict.fromkeys(SERVICES, 1)),
                           ("two", {"selection": 1, "posting": 2, "assessment": 1, "reporting": 2})):
        with running(DBS[name], replicas, tmp_path_factory.mktemp(f"replicas-{name}")) as urls:
            assert [len(urls[s]) for s in SERVICES] == [replicas[s] for s in SERVICES]
            began = time.monotonic()
            driver = drive(urls, DBS[name], today)
            played = time.monotonic()
            results[name] = snapshot(DBS[name], urls, driver)
            print(f"[{name}] played {len(driver.results)} commands in {played - began:.1f}s,"
                  f" settled in {time.monotonic() - played:.1f}s")
    return results


def test_two_replicas_of_posting_and_reporting_give_the_same_events_as_one(runs: dict[str, dict[str, Any]]) -> None:
    one, two = runs["one"]["events"], runs["two"]["events"]
    assert runs["one"]["commands"] == runs["two"]["commands"] > 20 * CADRES
    for service in SERVICES:
        missing, extra = one[service] - two[service], two[service] - one[service]
        assert not missing and not extra, (
            f"{service}: only with one replica {list(missing)[:3]}, only with two {list(extra)[:3]}")
    assert sum(one["posting"].values()) > 0 and sum(one["selection"].values()) > 0


def test_two_replicas_give_the_same_reporting_read_models_as_one(runs: dict[str, dict[str, Any]]) -> None:
    one, two = runs["one"]["read_models"], runs["two"]["read_models"]
    assert set(one) == set(two)
    assert {"cadres", "nominations", "placements", "assessments", "timeline"} <= set(one)
    for table in one:
        assert one[table] == two[table], (
            f"reporting.{table}: only with one {list((one[table] - two[table]).keys())[:2]},"
            f" only with two {list((two[table] - one[table]).keys())[:2]}")
    assert runs["one"]["summary"] == runs["two"]["summary"] and runs["one"]["summary"]
