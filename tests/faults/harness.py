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

from tests.support.api import TOKENS


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
        steps = [
            ("/selection/cadres", "hr", {"cadre_id": cadre, "name": f"测试{n}", "rank": "deputy_section",
                                         "home_unit": "county-finance", "birth_date": "1990-01-01",
                                         "grassroots_experience": False, "fit_for_duty": True}),
            ("/selection/nominations", "finance", {"nomination_id": nomination, "cadre_id": cadre,
                                                   "placement_type": "gap_filling", "host_unit": "qingshui-township",
                                                   "host_post": "副镇长", "post_level": "deputy_section",
                                                   "posting_mode": "same_level", "reason": "补短"}),
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
    assert parked(db, "posting") == []
    assert parked(db, "selection") == []
