"""A running Four Gates for the security and bad-input tests: real selection, posting and assessment
processes on a throwaway vhost and the database `<test database>_security` (`fourgates_test_security` by
default), with a master key and a tokens file of their own, logs in a directory the tests can read, and
builders for real aggregates.
"""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from services.backbone.http import Route
from tests.conftest import sibling_db
from tests.support.api import free_port, uid
from tests.support.processes import ROOT, ServiceProcess, throwaway_vhost

DB = os.environ.get("FOURGATES_TEST_SECURITY_DB", sibling_db("security"))
SERVICES = ("selection", "posting", "assessment")
TODAY = date.today()

# One principal per role, plus the second of a kind where the domain tells units apart.
# (token, principal, role, unit); the tokens are random per run and live only in a file under the test's tmp dir.
PRINCIPALS: dict[str, tuple[str, str, str | None]] = {
    "od": ("od.zhang", "organisation_department", "county-od"),
    "od2": ("od.wang", "organisation_department", "county-od"),
    "pc": ("pc.chen", "party_committee", "county-pc"),
    "hr": ("hr.sync", "integration", "county-hr"),
    "auditor": ("audit.sun", "auditor", "county-audit"),
    "operator": ("ops.he", "operator", "county-it"),
    "agency": ("survey.agency", "third_party_agency", "polling-co"),
    "agency_rival": ("rival.agency", "third_party_agency", "rival-polling-co"),
    "finance": ("finance.liu", "sending_unit", "county-finance"),
    "education": ("education.zhao", "sending_unit", "county-education"),
    "qingshui": ("qingshui.wu", "host_unit", "qingshui-township"),
    "baima": ("baima.zheng", "host_unit", "baima-township"),
}
# The principal the role matrix uses for each role (an own-unit one where units matter).
ROLE_PRINCIPAL = {"sending_unit": "finance", "organisation_department": "od", "party_committee": "pc",
                  "host_unit": "qingshui", "third_party_agency": "agency", "auditor": "auditor",
                  "integration": "hr", "operator": "operator"}
SETUP = "setup-"  # the X-Correlation-Id prefix of the tests' own set-up requests
HOME_UNIT, HOST_UNIT, AGENCY_UNIT = "county-finance", "qingshui-township", "polling-co"
TERMS = {"tasks": ["联系两个村的信访接待"], "term_goals": ["化解积案三件"], "post_requirements": ["每周在岗不少于四天"],
         "reward_conditions": ["年度考核优秀者优先使用"], "penalty_conditions": ["擅离岗位者召回"]}


def routes() -> list[Route]:
    """Every HTTP route of selection, posting and assessment, from their ROUTES tables."""
    from services.assessment.service import ROUTES as A
    from services.posting.service import ROUTES as P
    from services.selection.service import ROUTES as S

    return [*S.routes, *P.routes, *A.routes]


def operation_routes() -> list[Route]:
    """Writes that change no domain state: an operator replays or dismisses a parked message."""
    return [r for r in routes() if r.method != "GET" and "/parked/" in r.path]


def write_routes() -> list[Route]:
    """The domain's writes: every route that may append to a service's log on a principal's behalf."""
    operations = operation_routes()
    return [r for r in routes() if r.method != "GET" and r not in operations]


@dataclass
class Client:
    """HTTP to one service as one of PRINCIPALS (or with a raw Authorization header)."""

    base: str
    tokens: dict[str, str]

    def headers(self, as_: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The caller's token, and a correlation id marking the request as the tests' own set-up."""
        hdrs = {"Authorization": f"Bearer {self.tokens[as_]}"} if as_ else {}
        return {"X-Correlation-Id": f"{SETUP}{uuid.uuid4().hex}", **hdrs, **(extra or {})}

    def post(self, path: str, body: Any, as_: str | None, **headers: str) -> requests.Response:
        return requests.post(self.base + path, json=body, headers=self.headers(as_, headers), timeout=60)

    def get(self, path: str, as_: str | None = "auditor", **params: Any) -> requests.Response:
        return requests.get(self.base + path, params=params, headers=self.headers(as_), timeout=60)


@dataclass
class System:
    db: str
    amqp_uri: str
    logs: Path
    master_key: str
    tokens: dict[str, str]
    tokens_file: Path
    ports: dict[str, int]
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    def client(self, service: str) -> Client:
        return Client(f"http://127.0.0.1:{self.ports[service]}", self.tokens)

    def base(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def selection(self) -> Client:
        return self.client("selection")

    @property
    def posting(self) -> Client:
        return self.client("posting")

    @property
    def assessment(self) -> Client:
        return self.client("assessment")

    def service_of(self, path: str) -> Client:
        return self.client(path.strip("/").split("/")[0])

    # -- the event log -------------------------------------------------------------------------

    def event_counts(self) -> dict[str, int]:
        with psycopg.connect(self.db) as conn:
            return {s: int(conn.execute(f"SELECT count(*) FROM {s}.events").fetchone()[0])  # type: ignore[index]
                    for s in SERVICES}

    def events_of_commands(self, command_ids: list[str]) -> list[tuple[str, str, str]]:
        """(schema, type, command id) of every event any of `command_ids` (or their `<id>:<n>` parts) caused."""
        if not command_ids:
            return []
        found = []
        with psycopg.connect(self.db) as conn:
            for s in SERVICES:
                found += [(s, r[0], r[1]) for r in conn.execute(
                    f"SELECT type, metadata->>'command_id' FROM {s}.events"
                    " WHERE metadata->>'command_id' = ANY(%(ids)s)"
                    "    OR split_part(metadata->>'command_id', ':', 1) = ANY(%(ids)s)"
                    "    OR metadata->>'correlation_id' = ANY(%(ids)s)", {"ids": command_ids})]
        return found

    def correlations_since(self, positions: dict[str, int]) -> list[tuple[str, str, str, str]]:
        """(schema, type, command id, correlation id) of every event recorded after `positions`."""
        out = []
        with psycopg.connect(self.db) as conn:
            for s in SERVICES:
                out += [(s, r[0], r[1], r[2]) for r in conn.execute(
                    f"SELECT type, metadata->>'command_id', metadata->>'correlation_id' FROM {s}.events"
                    " WHERE position > %s ORDER BY position", (positions[s],))]
        return out

    def positions(self) -> dict[str, int]:
        with psycopg.connect(self.db) as conn:
            return {s: int(conn.execute(f"SELECT coalesce(max(position), 0) FROM {s}.events").fetchone()[0])  # type: ignore[index]
                    for s in SERVICES}

    def quiet(self, timeout: float = 20, still: float = 1.0) -> dict[str, int]:
        """Wait until no service appends for `still` seconds (consumers caught up); the counts then."""
        deadline, last, since = time.monotonic() + timeout, self.event_counts(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.event_counts()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= still:
                return now
        return last

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.rglob("*.log")))

    def logged_error(self, answer: str) -> str:
        """The end of the traceback a service logged under the reference a 500 answer quotes."""
        found = re.search(r"reference ([0-9a-f]{12})", answer)
        if not found:
            return ""
        for line in self.log_text().splitlines():
            if found.group(1) in line:
                try:
                    logged = json.loads(line)
                except ValueError:
                    return "\n      log: " + line[:600]
                trace = str(logged.get("exception", logged.get("message", ""))).splitlines()
                return "\n      log: " + "\n      log: ".join(trace[-6:])
        return ""

    # -- real aggregates, built through the API ------------------------------------------------

    def cadre(self, **overrides: Any) -> str:
        body = {"cadre_id": uid("c"), "name": "李明", "rank": "deputy_section", "home_unit": HOME_UNIT,
                "birth_date": "1992-05-01", "grassroots_experience": False, "fit_for_duty": True,
                "reserve_cadre": True, **overrides}
        ok(self.selection.post("/selection/cadres", body, "hr"))
        return str(body["cadre_id"])

    def nomination(self, cadre_id: str | None = None, **overrides: Any) -> str:
        body = {"nomination_id": uid("n"), "cadre_id": cadre_id or self.cadre(), "placement_type": "gap_filling",
                "host_unit": HOST_UNIT, "host_post": "副镇长", "post_level": "deputy_section",
                "posting_mode": "same_level", "reason": "年轻干部缺少基层经历", "recommended_on": "2025-02-01",
                **overrides}
        ok(self.selection.post("/selection/nominations", body, "finance"))
        return str(body["nomination_id"])

    def inspected(self) -> str:
        nomination_id = self.nomination()
        ok(self.selection.post(f"/selection/nominations/{nomination_id}/inspection",
                               {"findings": "德才兼备", "passed": True}, "od"))
        return nomination_id

    def approved(self) -> str:
        nomination_id = self.inspected()
        ok(self.selection.post(f"/selection/nominations/{nomination_id}/decision",
                               {"approved": True, "decision_ref": "县委〔2025〕12号", "decision_date": "2025-03-01"}, "pc"))
        eventually(lambda: self.posting.get(f"/posting/nominations/{nomination_id}").status_code == 200)
        return nomination_id

    def planned(self, start: date = date(2025, 4, 1), term: int = 24) -> str:
        placement_id = uid("p")
        ok(self.posting.post("/posting/placements", {"placement_id": placement_id, "nomination_id": self.approved(),
                                                     "term_months": term, "start_date": start.isoformat()}, "od"))
        return placement_id

    def drafted(self, term: int = 24) -> str:
        placement_id = self.planned(term=term)
        ok(self.posting.post(f"/posting/placements/{placement_id}/agreement", TERMS, "od"))
        return placement_id

    def signed(self, term: int = 24) -> str:
        placement_id = self.drafted(term)
        for party in ("od", "finance", "qingshui"):
            ok(self.posting.post(f"/posting/placements/{placement_id}/agreement/signatures", {"version": 1}, party))
        return placement_id

    def active(self, term: int = 24) -> str:
        placement_id = self.signed(term)
        ok(self.posting.post(f"/posting/placements/{placement_id}/start", {}, "qingshui"))
        eventually(lambda: self.assessment.get(f"/assessment/placements/{placement_id}").json()["status"] == "active")
        return placement_id

    def open_assessment(self, placement_id: str | None = None, year: int = 2025) -> str:
        """The path of an open annual assessment of an active placement hosted by qingshui."""
        placement_id = placement_id or self.active()
        ok(self.assessment.post("/assessment/assessments",
                                {"placement_id": placement_id, "kind": "annual", "year": year}, "qingshui"))
        return f"/assessment/placements/{placement_id}/assessments/{year}"

    def campaign(self) -> str:
        campaign_id = uid("camp")
        ok(self.assessment.post("/assessment/campaigns", {
            "campaign_id": campaign_id, "year": 2026, "units": [HOME_UNIT, "county-education"],
            "agency": AGENCY_UNIT, "settings": {"version": "city-2026"}}, "od"))
        return campaign_id


def ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()  # type: ignore[no-any-return]


def eventually(check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
    return result


def _write_tokens(path: Path) -> dict[str, str]:
    tokens = {name: f"sec-{name}-{secrets.token_urlsafe(24)}" for name in PRINCIPALS}
    lines = [f"{tokens[n]}: {{principal: {p}, role: {r}, unit: {u}}}" for n, (p, r, u) in PRINCIPALS.items()]
    path.write_text("\n".join(lines) + "\n")
    return tokens


@contextmanager
def running_system(tmp_path_factory: pytest.TempPathFactory, db: str = DB) -> Iterator[System]:
    """Selection, posting and assessment running against fresh schemas of `db` (a libpq string the
    services use as it is: it may carry a password), with random tokens and a random master key."""
    from services.backbone.migrations import ensure_database

    plain = " ".join(part for part in db.split() if not part.startswith("password="))
    ensure_database(plain)
    with psycopg.connect(plain, autocommit=True) as conn:
        for s in (*SERVICES, "reporting"):
            conn.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")
    root = tmp_path_factory.mktemp("security")
    logs = root / "logs"
    logs.mkdir()
    tokens_file = root / "tokens.yaml"
    tokens = _write_tokens(tokens_file)
    master_key = base64.b64encode(secrets.token_bytes(32)).decode()
    with throwaway_vhost() as amqp_uri:
        ports = {s: free_port() for s in SERVICES}
        system = System(plain, amqp_uri, logs, master_key, tokens, tokens_file, ports)
        env = {"AMQP_URI": amqp_uri, "FOURGATES_DB": db, "FOURGATES_MASTER_KEY": master_key,
               "FOURGATES_TOKENS_FILE": str(tokens_file), "FOURGATES_CHECKIN_SCAN_SECONDS": "3600",
               "DB_POOL_SIZE": "5"}
        try:
            for s in SERVICES:
                (logs / s).mkdir()
                system.processes[s] = ServiceProcess(
                    f"services.{s}.service", s, {**env, "WEB_SERVER_ADDRESS": f"127.0.0.1:{ports[s]}"}, logs / s).start()
            ok(system.selection.post("/selection/policies", {
                "version": "county-2025", "effective_from": "2025-01-01",
                "age_caps": {"clerk": 35, "deputy_section": 40, "section_chief": 40}, "reserve_preferred": True}, "od"))
            yield system
        finally:
            for process in system.processes.values():
                process.stop()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """A running system per test module (fresh schemas: no module sees another's data)."""
    with running_system(tmp_path_factory) as running:
        yield running


def new_key() -> str:
    return f"sec-{uuid.uuid4().hex}"


__all__ = ["DB", "ROOT", "System", "eventually", "new_key", "ok", "routes", "write_routes"]
