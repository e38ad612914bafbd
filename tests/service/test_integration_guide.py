"""The integration guide's example (docs/integration.md §5), run as it is written, against a real selection
process: bind a durable queue, stop consuming, events happen (and some messages are lost), replay from
the feed after the saved cursor, consume the backlog — every event applied exactly once.

Also: every running service serves the one OpenAPI document and the AsyncAPI document.
"""
from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from kombu import Connection

from tests.support.api import TOKENS, Api, uid
from tests.support.selection import running_selection
from tests.unit.test_contract_docs import message_validator

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "integration.md"
TYPES = ["selection.CadreRegistered", "selection.CadreUpdated", "selection.NominationApproved"]


def example_module(tmp_path: Path) -> ModuleType:
    """The guide's `follower.py` code block, imported as a module."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)
    code = next(b for b in blocks if b.startswith("# follower.py"))
    path = tmp_path / "follower.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("guide_follower", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["guide_follower"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from tests.service.test_selection_csv import integration_db

    with running_selection(integration_db(), tmp_path_factory.mktemp("logs")) as running:
        yield running


class Recorder:
    """The `apply` of the example: records every event it is given (a real system would change its tables)."""

    def __init__(self) -> None:
        self.applied: list[dict[str, Any]] = []

    def __call__(self, db: sqlite3.Connection, event: dict[str, Any]) -> None:
        self.applied.append(event)


def register(api: Api, cadre_id: str, rank: str = "deputy_section") -> list[dict[str, Any]]:
    body = {"cadre_id": cadre_id, "name": f"李{cadre_id[-4:]}", "rank": rank, "home_unit": "county-finance",
            "birth_date": "1992-05-01", "grassroots_experience": False, "fit_for_duty": True, "reserve_cadre": True}
    response = api.post("/selection/cadres", body, "hr")
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def approved_nomination(api: Api, cadre_id: str) -> list[dict[str, Any]]:
    nomination_id = uid("n")
    steps = [
        ("/selection/nominations", {"nomination_id": nomination_id, "cadre_id": cadre_id, "placement_type": "gap_filling",
                                    "host_unit": "qingshui-township", "host_post": "副镇长", "post_level": "deputy_section",
                                    "posting_mode": "same_level", "reason": "年轻干部缺少基层经历",
                                    "recommended_on": "2025-02-01"}, "finance"),
        (f"/selection/nominations/{nomination_id}/inspection", {"findings": "德才兼备", "passed": True}, "od"),
        (f"/selection/nominations/{nomination_id}/decision",
         {"approved": True, "decision_ref": "县委〔2025〕12号", "decision_date": "2025-03-01"}, "pc"),
    ]
    events: list[dict[str, Any]] = []
    for path, body, as_ in steps:
        response = api.post(path, body, as_)
        assert response.status_code in (200, 201), response.text
        events += response.json()["events"]
    return events


def lose_messages(amqp_uri: str, queue: str, count: int) -> int:
    """What a broker failure or an operator's purge would do: take messages off the queue unprocessed."""
    lost = 0
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        for _ in range(count):
            message = channel.basic_get(queue, no_ack=True)
            lost += message is not None
    return lost


def until(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_bind_stop_consuming_replay_from_the_feed_and_consume_every_event_exactly_once(
        running: dict[str, Any], tmp_path: Path) -> None:
    api, amqp_uri = running["api"], running["amqp_uri"]
    follower_py, recorder, queue = example_module(tmp_path), Recorder(), f"hr-sync.selection.{uid('q')}"

    def follower() -> Any:  # a fresh process of the other system each time, with its own database file
        return follower_py.Follower(service="selection", amqp_uri=amqp_uri, base_url=api.base, token=TOKENS["hr"],
                                    db_path=str(tmp_path / "hr-sync.sqlite3"), queue=queue, types=TYPES, apply=recorder)

    expected: list[dict[str, Any]] = []
    before_binding = register(api, uid("c"))  # recorded before the queue existed: only the feed has it
    expected += before_binding

    # 1. Start: bind our durable queue, catch up from the feed, then follow the queue.
    first = follower()
    first.bind()
    until(lambda: first.replay() > 0 or len(recorder.applied) >= 1)
    online = register(api, uid("c")) + register(api, uid("c"))
    expected += online
    until(lambda: first.consume(idle_seconds=0.5) >= 0 and len(recorder.applied) >= 3)
    saved_cursor = first.cursor()
    assert saved_cursor == recorder.applied[-1]["sequence"]

    # 2. Down: nothing consumes. Events happen; the durable queue keeps them — but some get lost.
    cadre_a, cadre_b = uid("c"), uid("c")
    downtime = register(api, cadre_a) + register(api, cadre_b) + register(api, cadre_a, rank="section_chief")
    downtime += approved_nomination(api, cadre_b)
    expected += [e for e in downtime if e["type"] in TYPES]
    assert len([e for e in downtime if e["type"] in TYPES]) == 4
    until(lambda: queue_depth(amqp_uri, queue) >= 4)
    assert lose_messages(amqp_uri, queue, 2) == 2

    # 3. Back: a new process binds, replays the feed after the saved cursor, then consumes the backlog.
    again = follower()
    assert again.cursor() == saved_cursor
    again.bind()
    until(lambda: again.replay() >= 0 and len(recorder.applied) >= len(expected))
    assert queue_depth(amqp_uri, queue) == 2  # the two messages that were not lost ...
    assert again.consume(idle_seconds=1) == 0  # ... are duplicates now: delivered, acked, applied no more

    applied_ids = Counter(e["id"] for e in recorder.applied)
    assert set(applied_ids) == {e["id"] for e in expected}
    assert all(n == 1 for n in applied_ids.values()), "an event was applied twice"
    assert queue_depth(amqp_uri, queue) == 0
    with sqlite3.connect(tmp_path / "hr-sync.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM inbox").fetchone()[0] == len(expected)
    feed = requests.get(api.base + "/selection/feed", params={"limit": 1000},
                        headers={"Authorization": f"Bearer {TOKENS['hr']}"}, timeout=30).json()["events"]
    assert [e["id"] for e in feed if e["type"] in TYPES] == [e["id"] for e in recorder.applied]  # feed order
    assert again.cursor() == feed[-1]["sequence"]

    asyncapi = json.loads((ROOT / "docs" / "asyncapi.json").read_text())
    for event in recorder.applied:  # real wire messages, from the queue and from the feed
        assert not [e.message for e in message_validator(asyncapi, event["type"]).iter_errors(event)]


def queue_depth(amqp_uri: str, queue: str) -> int:
    with Connection(amqp_uri) as conn:
        _, messages, _ = conn.channel().queue_declare(queue, passive=True)
        return int(messages)


def test_every_service_serves_the_one_openapi_document_and_the_asyncapi_document(api: Api) -> None:
    for name in ("openapi.json", "asyncapi.json"):
        served = requests.get(f"{api.base}/{name}", timeout=30)
        assert served.status_code == 200 and served.headers["Content-Type"].startswith("application/json")
        assert served.json() == json.loads((ROOT / "docs" / name).read_text())
    paths = requests.get(f"{api.base}/openapi.json", timeout=30).json()["paths"]
    assert {"/selection/cadres/import", "/posting/placements", "/assessment/feed"} <= set(paths)


@pytest.fixture
def api(running: dict[str, Any]) -> Api:
    return running["api"]
