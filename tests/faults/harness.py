"""A steady stream of commands through the HTTP API, and the checks that must hold after any fault."""
from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
import requests

from services.reporting.model import SOURCES
from services.reporting.rebuild import run_rebuild
from tests.support.api import TOKENS
from tests.support.processes import rpc_config
from tests.support.readmodels import cursors, drop_schema, tables_that_differ


@dataclass
class Outcome:
    key: str
    path: str
    status: int


@dataclass
class CommandStream:
    """Drives cadres through selection (register, recommend, inspect, approve) until stopped.

    Like a careful HR system, it retries a request whose connection failed with the same
    Idempotency-Key until it gets an HTTP answer, so every command ends with a definite status.
    """

    base: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    outcomes: list[Outcome] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        for n in itertools.count():
            if self.stop.is_set():
                return
            self._one_cadre(n)

    def _one_cadre(self, n: int) -> None:
        cadre, nomination = f"f{self.run_id}-{n}", f"fn{self.run_id}-{n}"
        steps: list[tuple[str, str, dict[str, Any]]] = [
            ("/selection/cadres", "hr", {"cadre_id": cadre, "name": f"测试{n}", "rank": "deputy_section",
                                         "home_unit": "county-finance", "birth_date": "1990-01-01",
                                         "grassroots_experience": False, "fit_for_duty": True}),
            ("/selection/nominations", "finance", {"nomination_id": nomination, "cadre_id": cadre,
                                                   "placement_type": "gap_filling", "host_unit": "qingshui-township",
                                                   "host_post": "副镇长", "post_level": "deputy_section",
                                                   "posting_mode": "same_level", "reason": "补短",
                                                   "recommended_on": "2025-02-01"}),
            (f"/selection/nominations/{nomination}/inspection", "od", {"findings": "合格", "passed": True}),
            (f"/selection/nominations/{nomination}/decision", "pc",
             {"approved": True, "decision_ref": f"县委〔2025〕{n}号", "decision_date": "2025-03-01"}),
        ]
        for i, (path, who, body) in enumerate(steps):
            status = self._send(f"{cadre}:{i}", path, who, body)
            if status >= 300 or self.stop.is_set():
                return

    def _send(self, key: str, path: str, who: str, body: dict[str, Any]) -> int:
        headers = {"Authorization": f"Bearer {TOKENS[who]}", "Idempotency-Key": key}
        deadline = time.monotonic() + 120
        while True:
            try:
                status = requests.post(self.base + path, json=body, headers=headers, timeout=15).status_code
                self.outcomes.append(Outcome(key, path, status))
                return status
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def accepted(self) -> list[Outcome]:
        return [o for o in self.outcomes if 200 <= o.status < 300]

    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status >= 300]


def events_by_command(db: str, schema: str) -> dict[str, int]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(f"SELECT metadata->>'command_id', count(*) FROM {schema}.events GROUP BY 1").fetchall()
    return {key: count for key, count in rows}


def approved_in_selection(db: str) -> set[str]:
    with psycopg.connect(db) as conn:
        return {r[0] for r in conn.execute(
            "SELECT data->>'nomination_id' FROM selection.events WHERE type = 'selection.NominationApproved'")}


def known_to_posting(db: str) -> list[str]:
    with psycopg.connect(db) as conn:
        return [r[0] for r in conn.execute(
            "SELECT data->>'nomination_id' FROM posting.events WHERE type = 'posting.NominationRecorded'")]


def parked(db: str, schema: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute(f"SELECT type, error FROM {schema}.parked_messages").fetchall()


def assert_nothing_lost_or_doubled(stream: CommandStream, db: str, timeout: float = 90) -> None:
    """Every 2xx command's events exactly once, none for a refused one; posting saw every approval once."""
    by_command = events_by_command(db, "selection")
    for outcome in stream.accepted():
        assert by_command.get(outcome.key, 0) >= 0  # a no-op command (identical upsert) may write nothing
        assert by_command.get(outcome.key, 0) <= 1, f"{outcome.key} wrote {by_command[outcome.key]} events"
    for outcome in stream.refused():
        assert outcome.key not in by_command, f"refused {outcome.key} ({outcome.status}) still wrote events"
    approvals = {o.key for o in stream.accepted() if o.path.endswith("/decision")}
    assert approvals and all(by_command.get(k) == 1 for k in approvals)
    deadline = time.monotonic() + timeout
    while set(known_to_posting(db)) != approved_in_selection(db):
        assert time.monotonic() < deadline, "posting never caught up with selection's approvals"
        time.sleep(0.5)
    recorded = known_to_posting(db)
    assert len(recorded) == len(set(recorded)), "an approval was applied twice in posting"
    for schema in ("selection", "posting", "assessment"):
        assert parked(db, schema) == [], f"{schema} parked events"


def source_events(db: str) -> dict[str, list[str]]:
    """Each source's event ids, sorted."""
    with psycopg.connect(db) as conn:
        return {s: sorted(str(r[0]) for r in conn.execute(f"SELECT event_id FROM {s}.events")) for s in SOURCES}


def seen_by_reporting(db: str, table: str) -> dict[str, list[str]]:
    """The event ids reporting's inbox (or timeline) holds per source, sorted, duplicates kept."""
    where = "WHERE consumer = 'reporting'" if table == "consumer_inbox" else ""
    with psycopg.connect(db) as conn:
        rows = conn.execute(f"SELECT source, event_id FROM reporting.{table} {where}").fetchall()
    return {s: sorted(str(event_id) for source, event_id in rows if source == s) for s in SOURCES}


def wait_until_reporting_caught_up(db: str, timeout: float) -> dict[str, list[str]]:
    """Block until reporting's inbox holds every event of every source; returns those events."""
    deadline = time.monotonic() + timeout
    while True:
        expected = source_events(db)
        inbox = seen_by_reporting(db, "consumer_inbox")
        if all(set(inbox[s]) >= set(expected[s]) for s in SOURCES):
            return expected
        missing = {s: len(set(expected[s]) - set(inbox[s])) for s in SOURCES}
        assert time.monotonic() < deadline, f"reporting never caught up: events not applied per source {missing}"
        time.sleep(0.5)


def assert_reporting_equals_a_rebuild(db: str, amqp_uri: str, timeout: float = 120) -> None:
    """Reporting applied every source event exactly once, parked none, and its read models equal a rebuild
    from scratch (the sources' feeds read from the start into a scratch schema), row for row."""
    expected = wait_until_reporting_caught_up(db, timeout)
    assert seen_by_reporting(db, "consumer_inbox") == expected, "reporting's inbox holds an event twice or a stranger"
    assert seen_by_reporting(db, "timeline") == expected, "reporting's timeline lacks or doubles an event"
    assert parked(db, "reporting") == [], "reporting parked events"
    scratch = f"rb_faults_{uuid.uuid4().hex[:8]}"
    try:
        result = run_rebuild(db, rpc_config(amqp_uri), scratch, switch=False, show=False)
        assert result["applied"] == {s: len(expected[s]) for s in SOURCES}
        assert tables_that_differ(db, "reporting", scratch) == {}, "read models differ from a rebuild"
        assert cursors(db, "reporting") == cursors(db, scratch)
        assert parked(db, scratch) == []
    finally:
        drop_schema(db, scratch)
