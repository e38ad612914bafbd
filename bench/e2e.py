"""End-to-end benchmark: commands through the HTTP API of the running services, beside the ceiling of a
bare nameko `@http` endpoint measured in the same run. `make bench-e2e` (`python -m bench.e2e`);
the last line printed is `command_ratio_vs_bare_http=<number>`. Method and figures: docs/bench-e2e.md.

One run, against its own database (`fourgates_bench_e2e`, schemas dropped first; FOURGATES_BENCH_E2E_DB
overrides) and its own RabbitMQ vhost (deleted afterwards); logs in var/bench-e2e/logs:

1. Bare ceiling. `bench/bare_service.py` (one `@http` endpoint that does no work) under `nameko run`,
   driven closed-loop by the load generator: LOAD_PROCESSES processes x BARE_CONNECTIONS keep-alive
   connections, GET /bare, for MEASURE_SECONDS after a warm-up. Then, the same way, its minimal command
   (POST /bare/events: one INSERT of an event row, nothing else -- the issue's second reference figure).
   Then it is stopped. Then the architecture's floor (bench/floor_service.py: one event appended, sealed into
   the audit chain, relayed with confirms and projected by a consumer in a second process; no domain), the
   same way, with the machine's CPU per command until the consumer has projected everything.
2. The four services (deploy/supervise.py, one process each, deploy/nameko.yaml settings; MAX_WORKERS,
   DB_POOL_SIZE etc. from the environment pass through) and a realistic mix: cadres' journeys (`journey`
   below: register, recommend, inspect, approve; place, draft, three signatures, start, check-ins; open
   an assessment, self-evaluation, tallies or one-time ballots, scores, finalise). Journeys ARRIVE at a
   fixed rate (open loop: offered commands/s divided by the commands per journey), whatever the answers;
   within a journey each command is sent when it is due, i.e. when the one before was answered, plus
   PROPAGATION_DELAY where an event must first reach another service (place after approve, open an
   assessment after start; a 404 because it has not arrived yet is sent again 0.5 s later and counted
   as "early"). Latency runs from when a command was due. The offered rate rises step by step; a step
   is kept up when its commands' p99 <= 1 s, <= 1% errors, and the 2xx answers from SETTLE seconds
   into it reach KEEP_UP of the offered rate. Sustained = the 2xx rate of the best step kept up before
   the first one that was not.
3. Projection lag at 100 commands/s offered: per source event recorded in that step, reporting's
   `consumer_inbox.processed_at` (now() of the transaction that applied it) minus the event's
   `recorded_at` (both PostgreSQL clocks); and posting's NominationRecorded minus the selection
   NominationApproved that caused it.
4. One vs two replicas: posting check-ins (host unit, on running placements seeded before the mix),
   closed loop: against the one posting process (placements A), then against two, round-robin
   (placements B), then both once more; each after every consumer has caught up. Means reported.
5. Peak memory: the kernel's high-water mark (VmHWM) of every service process and psutil's RSS sampled
   every half second; CPU seconds per process during the mix (psutil).

The load generator is ours: LOAD_PROCESSES processes, each an asyncio loop with a small HTTP/1.1
keep-alive client, the same for every measurement. It shares the machine's cores with the services,
PostgreSQL and RabbitMQ. If `wrk` is installed (apt-get install -y wrk) the bare endpoint is also
measured with it, printed for reference only.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

# ---------------------------------------------------------------- the workload: one cadre's journey through HTTP

OD, PC, HR = "dev-od-zhang", "dev-pc-chen", "dev-hr-sync"
SENDING = (("county-finance", "dev-send-finance"), ("county-education", "dev-send-education"),
           ("county-development", "dev-send-development"), ("county-commerce", "dev-send-commerce"))
HOSTS = (("qingshui-township", "dev-host-qingshui"), ("baima-township", "dev-host-baima"),
         ("shiqiao-township", "dev-host-shiqiao"), ("longtan-township", "dev-host-longtan"))
SELECTION_POLICY = {"version": "bench-2026", "effective_from": "2025-01-01",
                    "age_caps": {"clerk": 35, "deputy_section": 40, "section_chief": 45}, "reserve_preferred": True}
ASSESSMENT_POLICY = {"version": "bench-assessment-2026", "effective_from": "2025-01-01", "min_group_count": 5,
                     "excellent_cap": 0.2}
AGREEMENT = {"tasks": ["参与乡镇中心工作和信访矛盾化解"], "term_goals": ["牵头办结群众诉求不少于二十件"],
             "post_requirements": ["吃住在乡镇，每周在岗不少于四天"], "reward_conditions": ["年度考核优秀的优先使用"],
             "penalty_conditions": ["擅离岗位的予以召回"]}
TALLIES = {"leaders": {"excellent": 2, "competent": 5},
           "colleagues": {"excellent": 3, "competent": 9, "basically_competent": 1},
           "public": {"excellent": 2, "competent": 7, "basically_competent": 1}}
BALLOTS = ("excellent", "competent", "competent", "competent", "competent", "basically_competent")
SCORES = {"work_performance": 85.0, "public_recognition": 82.0, "quality_improvement": 84.0}


@dataclass(frozen=True)
class Probe:
    """A GET that says whether an event has reached the service a step needs (e.g. posting knows the approval)."""

    service: str
    path: str
    statuses: tuple[str, ...] = ()  # when given: the JSON's "status" must be one of these

    def satisfied(self, status: int, body: Any) -> bool:
        if status != 200:
            return False
        return not self.statuses or (isinstance(body, dict) and body.get("status") in self.statuses)


@dataclass(frozen=True)
class Step:
    """One command: where it goes, who sends it, its body and its Idempotency-Key (None: an anonymous ballot)."""

    kind: str  # the command in the mix: register, recommend, inspect, approve, place, draft, sign, start, ...
    service: str
    path: str
    token: str | None
    body: dict[str, Any]
    key: str | None
    after: Probe | None = None  # the event this step depends on must have propagated first
    then: Callable[[dict[str, Any]], list[Step]] | None = field(default=None, compare=False)  # follow-ups from the result

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.key:
            headers["Idempotency-Key"] = self.key
        return headers


def setup_steps(prefix: str) -> list[Step]:
    """The local settings every journey needs: selection's eligibility policy and assessment's rules."""
    return [Step("policy", "selection", "/selection/policies", OD, SELECTION_POLICY, f"{prefix}:policy:selection"),
            Step("policy", "assessment", "/assessment/policies", OD, ASSESSMENT_POLICY, f"{prefix}:policy:assessment")]


def is_stale(n: int) -> bool:
    """Every fourth placement started 200 days ago and never checked in on: posting's scanner flags it overdue."""
    return n % 4 == 3


def fails_inspection(n: int) -> bool:
    return n % 10 == 9


def ballot_steps(prefix: str, n: int) -> Callable[[dict[str, Any]], list[Step]]:
    def cast(result: dict[str, Any]) -> list[Step]:
        tokens = result.get("tokens") or []
        return [Step("ballot", "assessment", "/assessment/ballots", None, {"ballot_token": t, "grade": g}, None)
                for t, g in zip(tokens, BALLOTS, strict=False)]
    return cast


def birth_date(n: int, today: date) -> str:
    """Cadre n's birth date, in the 38th to 31st year before `today`'s (1988–1995 when run in 2026): every cadre
    is under the policy's age cap of 40 on the day it is recommended, whichever day the journey runs. Fixed
    years put cadre 0 (born 1988-01-10) over the cap in runs from 2029-02-23 on, and its inspection was refused."""
    return f"{today.year - 38 + n % 8}-0{1 + n % 9}-1{n % 10}"


def journey(prefix: str, n: int, today: date) -> list[Step]:
    """Cadre n through the four gates: registered, recommended, inspected, approved (selection); placed,
    agreement drafted and signed by all three, started, checked in on (posting); annual assessment with
    tallies or one-time ballots, performance scores and a final grade (assessment). Ids and keys are fixed."""
    home, sending = SENDING[n % len(SENDING)]
    host_unit, host = HOSTS[(n // len(SENDING)) % len(HOSTS)]
    cadre, nomination, placement = f"{prefix}-c{n}", f"{prefix}-n{n}", f"{prefix}-p{n}"
    key = f"{prefix}:{n}"
    start = today - timedelta(days=200 if is_stale(n) else 30)
    steps = [
        Step("register", "selection", "/selection/cadres", HR, {
            "cadre_id": cadre, "name": f"干部{n}", "rank": "deputy_section", "home_unit": home,
            "birth_date": birth_date(n, today), "grassroots_experience": False, "fit_for_duty": True,
            "reserve_cadre": n % 2 == 0}, f"{key}:register"),
        Step("recommend", "selection", "/selection/nominations", sending, {
            "nomination_id": nomination, "cadre_id": cadre, "placement_type": "gap_filling", "host_unit": host_unit,
            "host_post": "副镇长", "post_level": "deputy_section", "posting_mode": "same_level",
            "reason": "年轻干部缺少基层工作经历", "recommended_on": (start - timedelta(days=14)).isoformat()},
             f"{key}:recommend"),
    ]
    if fails_inspection(n):
        return [*steps, Step("inspect", "selection", f"/selection/nominations/{nomination}/inspection", OD,
                             {"findings": "群众反映较多，暂缓下派", "passed": False}, f"{key}:inspect")]
    steps += [
        Step("inspect", "selection", f"/selection/nominations/{nomination}/inspection", OD,
             {"findings": "德才兼备，符合下派条件", "passed": True}, f"{key}:inspect"),
        Step("approve", "selection", f"/selection/nominations/{nomination}/decision", PC,
             {"approved": True, "decision_ref": f"县委〔2026〕{n % 50 + 1}号", "decision_date": start.isoformat()},
             f"{key}:approve"),
        Step("place", "posting", "/posting/placements", OD, {
            "placement_id": placement, "nomination_id": nomination, "term_months": 24, "start_date": start.isoformat()},
            f"{key}:place", after=Probe("posting", f"/posting/nominations/{nomination}")),
        Step("draft", "posting", f"/posting/placements/{placement}/agreement", OD, AGREEMENT, f"{key}:draft"),
        *[Step("sign", "posting", f"/posting/placements/{placement}/agreement/signatures", token, {"version": 1},
               f"{key}:sign:{party}") for party, token in (("od", OD), ("sending", sending), ("host", host))],
        Step("start", "posting", f"/posting/placements/{placement}/start", host, {"started_on": start.isoformat()},
             f"{key}:start"),
    ]
    if not is_stale(n):
        steps += [Step("check_in", "posting", f"/posting/placements/{placement}/check-ins", host, {
            "checked_on": (start + timedelta(days=days)).isoformat(), "thinking": "思想稳定", "work": f"走访群众{days}户",
            "met_by": "镇党委书记"}, f"{key}:check-in:{days}") for days in (5, 15)]
    path = f"/assessment/placements/{placement}/assessments/{today.year}"
    steps += [
        Step("open_assessment", "assessment", "/assessment/assessments", host,
             {"placement_id": placement, "kind": "annual", "year": today.year}, f"{key}:assessment",
             after=Probe("assessment", f"/assessment/placements/{placement}", ("active",))),
        Step("self_evaluation", "assessment", path + "/self-evaluation", host, {"text": "扎根基层，完成了年度任务。"},
             f"{key}:self-evaluation"),
    ]
    for group, counts in TALLIES.items():
        if group == "colleagues" and n % 3 == 0:
            steps.append(Step("ballot_tokens", "assessment", path + "/ballot-tokens", host,
                              {"rater_group": group, "count": len(BALLOTS)}, f"{key}:tokens:{group}",
                              then=ballot_steps(prefix, n)))
        else:
            steps.append(Step("tally", "assessment", path + "/tallies", host, {"rater_group": group, "counts": counts},
                              f"{key}:tally:{group}"))
    steps += [Step("score", "assessment", path + "/performance-scores", host,
                   {"dimension": dimension, "score": score, "evidence": "年度工作台账"}, f"{key}:score:{dimension}")
              for dimension, score in SCORES.items()]
    steps.append(Step("finalise", "assessment", path + "/finalisation", host, {"final_grade": "competent"},
                      f"{key}:finalise"))
    return steps


# ---------------------------------------------------------------- settings

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = os.environ.get(
    "FOURGATES_BENCH_E2E_DB", "host=127.0.0.1 hostaddr=127.0.0.1 port=5432 user=postgres dbname=fourgates_bench_e2e")
RABBIT_API = os.environ.get("RABBIT_MANAGEMENT", "http://guest:guest@127.0.0.1:15672/api")
# processes of every service during the mix (round-robin); above 1 the one-vs-two comparison is left out,
# since it sets posting's processes itself
PROCESSES = int(os.environ.get("FOURGATES_BENCH_E2E_PROCESSES", "1"))
WORK_DIR = ROOT / "var" / "bench-e2e"
BARE_TABLE = "public.bare_events"  # bench/bare_service.py's minimal command inserts here
VHOST_PREFIX = "fourgates_bench_e2e_"
SERVICES = ("selection", "posting", "assessment", "reporting")
SOURCES = ("selection", "posting", "assessment")

LOAD_PROCESSES = 2
BARE_CONNECTIONS = 16  # per load process
WARMUP_SECONDS = 2.0
MEASURE_SECONDS = 8.0
# (offered commands/s, seconds); stops after the first step >= 100/s not kept up
LADDER: tuple[tuple[float, float], ...] = (
    (10.0, 14.0), (25.0, 14.0), (50.0, 14.0), (100.0, 14.0), (150.0, 12.0), (200.0, 12.0), (250.0, 12.0),
    (300.0, 12.0), (400.0, 12.0), (600.0, 12.0))
# FOURGATES_BENCH_E2E_LADDER="180:60" (rate:seconds, comma-separated) replaces the ladder, e.g. for a profile at a
# steady rate; the figures printed then are those of that schedule, not the benchmark's
if ladder := os.environ.get("FOURGATES_BENCH_E2E_LADDER"):
    LADDER = tuple((float(rate), float(seconds)) for rate, seconds in (step.split(":") for step in ladder.split(",")))
LAG_RATE = 100.0  # the step whose projection lag is reported
SEED_CADRES = 60  # played through selection and posting first: the placements the replica comparison checks in on
SETTLE = 4.0  # seconds into a step before its answers count: journeys started at the old rate are still going
INFLIGHT = 96  # per load process and service: requests beyond it wait for a connection (latency counts it)
PROPAGATION_DELAY = 1.0
CHECKIN_CONNECTIONS = 12  # per load process, in the replica comparison
KEEP_UP = 0.85  # of the offered rate: a journey's ~20 commands come in a burst, so a 10 s count wobbles by ~8%
P99_LIMIT_MS = 1000.0
REPLICA_MARGIN = 0.10
GOALS = {"ratio": 0.35, "lag_p99_ms": 250.0, "memory_mb": 150.0}


# ---------------------------------------------------------------- a small HTTP/1.1 keep-alive client


class Connection:
    """One keep-alive connection; `request` sends and reads one exchange (Content-Length or chunked)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        for attempt in (1, 2):
            fresh = self.writer is None
            if fresh:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None and self.writer is not None
            lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                     *(f"{k}: {v}" for k, v in headers.items()), f"Content-Length: {len(body) if body else 0}"]
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
            status_line = await self.reader.readline()
            if not status_line:  # the server closed an idle keep-alive connection: once more on a new one
                self.close()
                if fresh or attempt == 2:
                    raise ConnectionError("connection closed before an answer")
                continue
            return await self._rest(int(status_line.split()[1]))
        raise ConnectionError("unreachable")

    async def _rest(self, status: int) -> tuple[int, bytes]:
        assert self.reader is not None
        length, chunked, close = None, False, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            parts = []
            while (size := int((await self.reader.readline()).split(b";")[0], 16)) > 0:
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            data = b"".join(parts)
        elif length is not None:
            data = await self.reader.readexactly(length)
        else:
            data, close = await self.reader.read(), True
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Pool:
    """Keep-alive connections to a service's replicas, round-robin, at most `size` requests in flight."""

    def __init__(self, urls: list[str], size: int) -> None:
        self.addresses = [(m.group(1), int(m.group(2))) for m in (re.match(r"http://([^:/]+):(\d+)", u) for u in urls) if m]
        self.idle: list[list[Connection]] = [[] for _ in self.addresses]
        self.turn = itertools.cycle(range(len(self.addresses)))
        self.slots = asyncio.Semaphore(size)

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        async with self.slots:
            i = next(self.turn)
            conn = self.idle[i].pop() if self.idle[i] else Connection(*self.addresses[i])
            try:
                status, data = await conn.request(method, path, headers, body)
            except Exception:
                conn.close()
                raise
            if conn.writer is not None:
                self.idle[i].append(conn)
            return status, data


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# ---------------------------------------------------------------- closed loop (bare endpoint, check-ins)


def closed_loop_process(spec: dict[str, Any], results: Any) -> None:
    """One load process: `connections` loops, each sending its next request as soon as the last answered."""
    results.put(asyncio.run(_closed_loop(spec)))


async def _closed_loop(spec: dict[str, Any]) -> dict[str, Any]:
    pool = Pool(spec["urls"], spec["connections"])
    loop = asyncio.get_running_loop()
    start = loop.time() + spec["warmup"]
    end = start + spec["seconds"]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    async def run(i: int) -> None:
        for k in itertools.count():
            method, path, headers, body = _closed_request(spec, i, k)
            sent = loop.time()
            if sent >= end:
                return
            try:
                status, _ = await pool.request(method, path, headers, body)
            except (OSError, ConnectionError, asyncio.IncompleteReadError):
                status = 599
            done = loop.time()
            if start <= sent and done <= end:
                latencies.append((done - sent) * 1000)
                statuses[status] += 1

    await asyncio.gather(*(run(i) for i in range(spec["connections"])))
    return {"latencies": latencies, "statuses": dict(statuses), "seconds": spec["seconds"]}


def _closed_request(spec: dict[str, Any], i: int, k: int) -> tuple[str, str, dict[str, str], bytes | None]:
    if spec["kind"] == "bare":
        return "GET", "/bare", {}, None
    if spec["kind"] in ("insert", "floor"):
        body = {"cadre": f"{i}-{k}", "checked_on": "2026-11-28", "work": f"第{k}次走访"}
        path = "/bare/events" if spec["kind"] == "insert" else "/floor/events"
        return "POST", path, {"Content-Type": "application/json"}, json.dumps(body).encode()
    placements = spec["placements"][i::spec["connections"]]
    placement_id, token = placements[k % len(placements)]
    body = {"checked_on": spec["today"], "thinking": "思想稳定", "work": f"第{k}次走访", "met_by": "镇党委书记"}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
               "Idempotency-Key": f"{spec['prefix']}:{spec['process']}:{i}:{k}"}
    return "POST", f"/posting/placements/{placement_id}/check-ins", headers, json.dumps(body).encode()


def run_closed(specs: list[dict[str, Any]]) -> dict[str, Any]:
    """Run one closed-loop measurement in LOAD_PROCESSES processes; merged latencies and statuses."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=closed_loop_process, args=(spec, results)) for spec in specs]
    for proc in procs:
        proc.start()
    merged: dict[str, Any] = {"latencies": [], "statuses": Counter(), "seconds": specs[0]["seconds"]}
    for _ in procs:
        part = results.get(timeout=specs[0]["warmup"] + specs[0]["seconds"] + 120)
        merged["latencies"] += part["latencies"]
        merged["statuses"].update(part["statuses"])
    for proc in procs:
        proc.join()
    ok = sum(n for s, n in merged["statuses"].items() if 200 <= s < 300)
    merged["ok_per_s"] = ok / merged["seconds"]
    merged["errors"] = sum(merged["statuses"].values()) - ok
    return merged


# ---------------------------------------------------------------- open loop: journeys at a scheduled rate


@dataclass
class StepStats:
    rate: float
    seconds: float
    began: float = 0.0  # wall clock, for the database queries
    ended: float = 0.0
    offered: int = 0  # commands sent (first tries and retries)
    ok_in_window: int = 0  # 2xx answers received between SETTLE seconds into the step and its end
    errors: Counter[str] = field(default_factory=Counter)
    early: int = 0
    latencies: list[float] = field(default_factory=list)  # ms, of 2xx answers to commands sent in this step
    by_kind: dict[str, list[float]] = field(default_factory=dict)


def commands_per_journey(sample: int = 120) -> float:
    """How many commands one journey sends on average (ballots included)."""
    today = date(2026, 1, 1)
    return sum(len(journey("x", n, today)) + (len(BALLOTS) if n % 3 == 0 and not fails_inspection(n) else 0)
               for n in range(sample)) / sample


class OpenLoop:
    """Cadre journeys arrive at a fixed rate (the offered command rate / commands per journey); each sends its
    commands one after another, each as soon as it is due: when the one before was answered, plus
    PROPAGATION_DELAY where an event must first reach another service. Arrivals never wait for answers
    (open loop); a command's latency runs from when it was due, so waiting for a free connection counts."""

    def __init__(self, spec: dict[str, Any], stop: Any) -> None:
        self.spec, self.stop = spec, stop
        self.pools = {service: Pool(urls, INFLIGHT) for service, urls in spec["urls"].items()}
        self.numbers = itertools.count(spec["process"] * 10_000_000)
        self.today = date.fromisoformat(spec["today"])
        self.per_journey = commands_per_journey()
        self.stats: list[StepStats] = []
        self.current: StepStats | None = None  # the step under way
        self.window_from = 0.0
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self, results: Any) -> None:
        loop = asyncio.get_running_loop()
        for index, (rate, seconds) in enumerate(self.spec["schedule"]):
            if self.stop.is_set():
                break
            stats = StepStats(rate, seconds, began=time.time())
            self.stats.append(stats)
            self.current = stats
            began = loop.time()
            end, self.window_from = began + seconds, began + SETTLE
            interval = self.per_journey / rate
            for k in itertools.count():
                if (due := began + k * interval) >= end:
                    break
                await asyncio.sleep(max(0.0, due - loop.time()))
                steps = journey(self.spec["prefix"], next(self.numbers), self.today)
                task = asyncio.create_task(self.play(deque(steps)))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            await asyncio.sleep(max(0.0, end - loop.time()))
            stats.ended = time.time()
            results.put(("step", self.spec["process"], index, self._summary(stats, final=False)))
        self.current = None  # journeys still under way send nothing more
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=15)
        results.put(("done", self.spec["process"], [self._summary(s, final=True) for s in self.stats]))

    def _summary(self, s: StepStats, final: bool) -> dict[str, Any]:
        out = {"rate": s.rate, "seconds": s.seconds, "began": s.began, "ended": s.ended, "offered": s.offered,
               "ok_in_window": s.ok_in_window, "errors": dict(s.errors), "early": s.early}
        if final:
            out.update(latencies=s.latencies, by_kind=s.by_kind)
        else:
            out.update(p99=percentile(s.latencies, 99), answered=len(s.latencies))
        return out

    async def play(self, steps: deque[Step]) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while steps and (stats := self.current) is not None:
            step = steps[0]
            stats.offered += 1
            try:
                status, data = await self.pools[step.service].request(
                    "POST", step.path, step.headers(), json.dumps(step.body, ensure_ascii=False).encode())
            except (OSError, ConnectionError, asyncio.IncompleteReadError) as exc:
                stats.errors[type(exc).__name__] += 1
                if step.key is None:
                    steps.popleft()
                due = loop.time() + 0.5
                await asyncio.sleep(0.5)
                continue
            done = loop.time()
            if 200 <= status < 300:
                latency = (done - due) * 1000
                stats.latencies.append(latency)
                stats.by_kind.setdefault(step.kind, []).append(latency)
                if self.current is not None and done >= self.window_from:
                    self.current.ok_in_window += 1
                steps.popleft()
                if step.then is not None:
                    steps.extendleft(reversed(step.then(json.loads(data))))
                delay = PROPAGATION_DELAY if steps and steps[0].after is not None else 0.0
            elif status == 404 and step.after is not None:
                stats.early += 1  # the event it depends on has not reached that service yet: again, a little later
                delay = 0.5
            elif status in (409, 503) and _rule(data) in ("concurrent_change", "unavailable") and step.key is not None:
                stats.errors[f"{status} {_rule(data)} ({step.kind})"] += 1
                delay = 0.2
            else:
                stats.errors[f"{status} {_rule(data)} ({step.kind})"] += 1
                return  # the journey ends here
            due = done + delay
            if delay:
                await asyncio.sleep(delay)


def _rule(data: bytes) -> str:
    try:
        return str(json.loads(data).get("rule", ""))
    except ValueError:
        return ""


def open_loop_process(spec: dict[str, Any], stop: Any, results: Any) -> None:
    asyncio.run(OpenLoop(spec, stop).run(results))


def run_ladder(urls: dict[str, list[str]], prefix: str, schedule: list[tuple[float, float]],
               on_step: Callable[[int, dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """The schedule split over LOAD_PROCESSES; `on_step(index, merged)` returning False stops after that step."""
    ctx = mp.get_context("spawn")
    results, stop = ctx.Queue(), ctx.Event()
    today = datetime.now(UTC).date().isoformat()
    per_process = [(rate / LOAD_PROCESSES, seconds) for rate, seconds in schedule]
    procs = [ctx.Process(target=open_loop_process, args=({"urls": urls, "prefix": prefix, "process": p,
                                                          "schedule": per_process, "today": today}, stop, results))
             for p in range(LOAD_PROCESSES)]
    for proc in procs:
        proc.start()
    partial: dict[int, list[dict[str, Any]]] = {}
    finals: dict[int, list[dict[str, Any]]] = {}
    while len(finals) < len(procs):
        message = results.get(timeout=sum(s for _, s in schedule) + 180)
        if message[0] == "step":
            _, _, index, part = message
            partial.setdefault(index, []).append(part)
            if len(partial[index]) == len(procs) and not on_step(index, merge_steps(partial[index])):
                stop.set()
        else:
            finals[message[1]] = message[2]
    for proc in procs:
        proc.join()
    steps = min(len(f) for f in finals.values())
    return [merge_steps([finals[p][i] for p in finals], final=True) for i in range(steps)]


def merge_steps(parts: list[dict[str, Any]], final: bool = False) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "rate": sum(p["rate"] for p in parts), "seconds": parts[0]["seconds"],
        "began": min(p["began"] for p in parts), "ended": max(p["ended"] for p in parts),
        "offered": sum(p["offered"] for p in parts), "ok_in_window": sum(p["ok_in_window"] for p in parts),
        "errors": sum((Counter(p["errors"]) for p in parts), Counter()), "early": sum(p["early"] for p in parts)}
    if final:
        merged["latencies"] = [x for p in parts for x in p["latencies"]]
        by_kind: dict[str, list[float]] = {}
        for p in parts:
            for kind, values in p["by_kind"].items():
                by_kind.setdefault(kind, []).extend(values)
        merged["by_kind"] = by_kind
        merged["p50"], merged["p99"] = percentile(merged["latencies"], 50), percentile(merged["latencies"], 99)
    else:
        merged["p99"] = max(p["p99"] for p in parts)  # an upper bound while the step is judged
    merged["achieved"] = merged["ok_in_window"] / (merged["seconds"] - SETTLE)
    answered = merged["ok_in_window"] + sum(merged["errors"].values())
    merged["error_share"] = sum(merged["errors"].values()) / answered if answered else 0.0
    merged["kept_up"] = (merged["achieved"] >= KEEP_UP * merged["rate"] and merged["p99"] <= P99_LIMIT_MS
                         and merged["error_share"] <= 0.01)
    return merged


# ---------------------------------------------------------------- the system under test


@contextlib.contextmanager
def own_vhost() -> Iterator[str]:
    """A RabbitMQ vhost for this run. Not named like the tests' (`make clean-vhosts`, run by anyone on a shared
    machine, would delete it mid-run); a leftover of an earlier, killed run is deleted here instead."""
    import requests

    for vhost in requests.get(f"{RABBIT_API}/vhosts", timeout=10).json():
        if vhost["name"].startswith(VHOST_PREFIX):
            requests.delete(f"{RABBIT_API}/vhosts/{vhost['name']}", timeout=10)
    name = f"{VHOST_PREFIX}{uuid.uuid4().hex[:8]}"
    requests.put(f"{RABBIT_API}/vhosts/{name}", timeout=10).raise_for_status()
    requests.put(f"{RABBIT_API}/permissions/{name}/guest", json={"configure": ".*", "write": ".*", "read": ".*"},
                 timeout=10).raise_for_status()
    try:
        yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
    finally:
        requests.delete(f"{RABBIT_API}/vhosts/{name}", timeout=10)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")
        time.sleep(0.3)


class Memory:
    """Peak memory per process: psutil's RSS sampled every half second, and the kernel's high-water mark."""

    def __init__(self) -> None:
        try:
            import psutil
        except ImportError:  # pragma: no cover - psutil is a bench dependency
            psutil = None
            print("(psutil missing: `.venv/bin/pip install psutil==7.2.2`; reading /proc only)")
        self.psutil = psutil
        self.pids: dict[str, int] = {}
        self.rss: dict[str, float] = {}
        self.hwm: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def watch(self, label: str, pid: int) -> None:
        self.pids[label] = pid

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            self.sample()

    def sample(self) -> None:
        for label, pid in list(self.pids.items()):
            try:
                if self.psutil is not None:
                    self.rss[label] = max(self.rss.get(label, 0.0), self.psutil.Process(pid).memory_info().rss / 2**20)
                status = Path(f"/proc/{pid}/status").read_text()
            except Exception:  # noqa: BLE001  (the process ended)
                continue
            found = re.search(r"VmHWM:\s+(\d+) kB", status)
            if found:
                self.hwm[label] = max(self.hwm.get(label, 0.0), int(found.group(1)) / 1024)

    def peak(self, label: str) -> float:
        return max(self.hwm.get(label, 0.0), self.rss.get(label, 0.0))

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each watched process, and by the whole machine (key "machine", with "cores")."""
        used: dict[str, float] = {}
        if self.psutil is None:
            return used
        for label, pid in self.pids.items():
            with contextlib.suppress(Exception):
                times = self.psutil.Process(pid).cpu_times()
                used[label] = times.user + times.system
        total = self.psutil.cpu_times()
        used["machine"] = total.user + total.system + getattr(total, "softirq", 0.0) + getattr(total, "irq", 0.0)
        used.update(self._rest())
        return used

    def _rest(self) -> dict[str, float]:
        """CPU seconds of what is not a service process: PostgreSQL's and RabbitMQ's processes (those alive
        now), and the load generator (this process and the load processes it has reaped)."""
        rest = {"=postgresql": 0.0, "=rabbitmq": 0.0}
        for proc in self.psutil.process_iter(["name", "cpu_times"]):
            times, name = proc.info["cpu_times"], proc.info["name"] or ""
            if times is None:
                continue
            group = "=postgresql" if name.startswith("postgres") else "=rabbitmq" if name in RABBITMQ_PROCESSES else None
            if group:
                rest[group] += times.user + times.system
        own = self.psutil.Process().cpu_times()
        rest["=load generator"] = own.user + own.system + own.children_user + own.children_system
        return rest


RABBITMQ_PROCESSES = {"beam.smp", "erl_child_setup", "epmd", "inet_gethost"}


def rest_report(before: dict[str, float], after: dict[str, float], seconds: float) -> str:
    """", PostgreSQL x% of a core, ..." -- the share of a core each part of the rest of the system used."""
    return "".join(f", {label[1:]} {(after[label] - before.get(label, 0.0)) / seconds:.0%} of a core"
                   for label in after if label.startswith("="))


def is_service(label: str) -> bool:
    """A label of one of the four services' processes (`posting#1`), not of the bare service or the floor's."""
    return label.partition("#")[0] in SERVICES


def cpu_report(before: dict[str, float], after: dict[str, float], seconds: float, commands: int) -> float:
    """Where the CPU went during the mix: per service process (ms per command), and the machine as a whole.
    Returns the machine's CPU milliseconds per command (NaN without psutil)."""
    if not before:
        return float("nan")
    parts = []
    for label in [k for k in after if is_service(k)]:
        used = after.get(label, 0.0) - before.get(label, 0.0)
        parts.append(f"{label} {used:.1f}s ({1000 * used / max(commands, 1):.1f} ms/cmd)")
    cores = os.cpu_count() or 1
    busy = (after["machine"] - before["machine"]) / (seconds * cores)
    print(f"  CPU during the mix ({seconds:.0f}s, {commands} commands answered 2xx): " + ", ".join(parts))
    print(f"  the machine's {cores} cores were {busy:.0%} busy (everything: the services, PostgreSQL, RabbitMQ, the load"
          " generator, and whatever else runs on this machine)")
    services = sum(after[k] - before.get(k, 0.0) for k in after if is_service(k))
    print(f"  shares of a core: the service processes {services / seconds:.0%}" + rest_report(before, after, seconds))
    return 1000 * (after["machine"] - before["machine"]) / max(commands, 1)


def gc_seconds(urls: dict[str, list[str]]) -> dict[str, float]:
    """Seconds each service process has spent in Python's garbage collector (its fourgates_gc_seconds_total)."""
    spent = {}
    for service, bases in urls.items():
        for i, base in enumerate(bases):
            with contextlib.suppress(Exception), urllib.request.urlopen(f"{base}/{service}/metrics", timeout=10) as answer:
                text = answer.read().decode()
                spent[f"{service}#{i}"] = sum(float(v) for v in re.findall(r"^fourgates_gc_seconds_total\{[^}]*\} (\S+)$",
                                                                            text, re.MULTILINE))
    return spent


def gc_report(before: dict[str, float], after: dict[str, float], cpu_before: dict[str, float],
              cpu_after: dict[str, float]) -> None:
    """The share of each service process's CPU during the mix that went to the garbage collector."""
    parts = []
    for label in after:
        spent, used = after[label] - before.get(label, 0.0), cpu_after.get(label, 0.0) - cpu_before.get(label, 0.0)
        if used > 0:
            parts.append(f"{label} {spent:.2f}s ({spent / used:.1%})")
    if parts:
        print("  of which in the garbage collector: " + ", ".join(parts))


class Bare:
    """bench/bare_service.py under `nameko run`, on a port of its own."""

    def __init__(self) -> None:
        self.port = free_port()
        config = WORK_DIR / "bare.yaml"
        config.write_text(f"WEB_SERVER_ADDRESS: 127.0.0.1:{self.port}\nmax_workers: 10\n")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "WEB_SERVER_ADDRESS": f"127.0.0.1:{self.port}", "BARE_DB": BENCH_DB}
        log = open(WORK_DIR / "logs" / "bare.log", "ab")  # noqa: SIM115  (closed with the process)
        self.proc = subprocess.Popen([sys.executable, "-m", "nameko", "run", "bench.bare_service", "--config", str(config)],
                                     cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_http(self.url + "/bare")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Floor:
    """bench/floor_service.py: its sink, then its origin, each under `nameko run` with the services' config."""

    SCHEMAS = ("floor_origin", "floor_sink")

    def __init__(self, amqp_uri: str, memory: Memory) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "AMQP_URI": amqp_uri, "FOURGATES_DB": BENCH_DB,
               "WEB_SERVER_ADDRESS": f"127.0.0.1:{self.port}", "FOURGATES_CHAIN_HEAD_DIR": str(WORK_DIR / "chain-heads")}
        try:
            for name, label in (("Sink", "floor_sink"), ("Origin", "floor_origin")):
                log = open(WORK_DIR / "logs" / f"{label}.log", "ab")  # noqa: SIM115  (closed with the process)
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "nameko", "run", f"bench.floor_service:{name}", "--config",
                     str(ROOT / "deploy" / "nameko.yaml")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
                memory.watch(f"{label}#0", self.procs[-1].pid)
                if name == "Sink":
                    self._wait_subscribed(amqp_uri.rsplit("/", 1)[1])
            self.url = f"http://127.0.0.1:{self.port}"
            wait_http(self.url + "/floor")
        except BaseException:
            self.stop()
            raise

    def _wait_subscribed(self, vhost: str, timeout: float = 60) -> None:
        """Until the sink consumes from its queue: the origin's first event must find it bound."""
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException, ValueError):
                queues = requests.get(f"{RABBIT_API}/queues/{vhost}", timeout=5).json()
                if any("floor_sink" in q.get("name", "") and q.get("consumers", 0) > 0 for q in queues):
                    return
            if self.procs[-1].poll() is not None:
                raise RuntimeError("the floor's sink exited: see var/bench-e2e/logs/floor_sink.log")
            time.sleep(0.3)
        raise RuntimeError(f"the floor's sink did not subscribe within {timeout:.0f}s")

    def stop(self) -> None:
        stop_all([SimpleNamespace(proc=proc) for proc in self.procs])


def floor_reference(memory: Memory, bare_rps: float) -> tuple[float, float]:
    """The architecture's floor (bench/floor_service.py) driven like the minimal command: the machine's CPU
    per command, everything included (the sink's projection too), and its rate's share of the bare ceiling.
    Prints its line."""
    import psycopg

    with psycopg.connect(BENCH_DB, autocommit=True) as conn:
        for schema in Floor.SCHEMAS:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    with own_vhost() as amqp_uri:
        floor = Floor(amqp_uri, memory)
        try:
            with psycopg.connect(BENCH_DB, autocommit=True) as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS floor_sink.projected (event_id uuid PRIMARY KEY, stream text)")
            cpu_before = memory.cpu()
            result = run_closed([{"kind": "floor", "urls": [floor.url], "connections": BARE_CONNECTIONS,
                                  "warmup": WARMUP_SECONDS, "seconds": MEASURE_SECONDS} for _ in range(LOAD_PROCESSES)])
            ended = time.monotonic()
            with psycopg.connect(BENCH_DB, autocommit=True) as conn:
                appended = conn.execute("SELECT count(*) FROM floor_origin.events").fetchone()[0]  # type: ignore[index]
                while (projected := conn.execute("SELECT count(*) FROM floor_sink.projected").fetchone()[0]  # type: ignore[index]
                       ) < appended and time.monotonic() - ended < 60:
                    time.sleep(0.1)
            drained = time.monotonic() - ended
            cpu_after = memory.cpu()
        finally:
            floor.stop()
    cpu_ms = 1000 * (cpu_after.get("machine", float("nan")) - cpu_before.get("machine", float("nan"))) / max(1, appended)
    parts = ", ".join(f"{label} {1000 * (cpu_after.get(label, 0.0) - cpu_before.get(label, 0.0)) / max(1, appended):.2f}"
                      for label in ("floor_origin#0", "floor_sink#0", "=postgresql", "=rabbitmq", "=load generator"))
    print(f"architecture_floor_req_per_s={result['ok_per_s']:.0f}  ({result['ok_per_s'] / bare_rps:.0%} of the bare ceiling;"
          f" bench/floor_service.py: one event appended, sealed, relayed and projected by a consumer in another"
          f" process, no domain; p50 {percentile(result['latencies'], 50):.1f} ms, {result['errors']} errors;"
          f" {projected} of {appended} projected, {drained:.1f}s after the load; the machine's CPU <= {cpu_ms:.2f} ms"
          f" per command: {parts.replace('=', '').replace('#0', '')} ms)", flush=True)
    return cpu_ms, result["ok_per_s"] / bare_rps


def wrk_reference(url: str) -> float | None:
    """Requests/s of wrk on the bare endpoint, when wrk is installed (for reference only)."""
    if not shutil.which("wrk"):
        return None
    out = subprocess.run(["wrk", f"-t{LOAD_PROCESSES}", f"-c{LOAD_PROCESSES * BARE_CONNECTIONS}",
                          f"-d{int(MEASURE_SECONDS)}s", url], capture_output=True, text=True, timeout=60).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(found.group(1)) if found else None


def stop_all(replicas: list[Any], grace: float = 15) -> None:
    """SIGTERM every replica at once, then wait; kill what is still running after `grace` seconds."""
    live = [r.proc for r in replicas if r.proc is not None and r.proc.poll() is None]
    for proc in live:
        proc.terminate()
    deadline = time.monotonic() + grace
    try:
        for proc in live:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    finally:  # also on a second Ctrl-C: nothing of ours is left running
        for proc in live:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def post(url: str, step: Step) -> None:
    import requests

    response = requests.post(url + step.path, json=step.body, headers=step.headers(), timeout=30)
    if response.status_code >= 300:
        raise RuntimeError(f"{step.path}: {response.status_code} {response.text[:300]}")


# ---------------------------------------------------------------- measurements against the database


def lag_figures(began: float, ended: float) -> dict[str, Any]:
    """Projection lag of the events recorded in [began, ended] (wall clock, seconds)."""
    import psycopg

    reporting: list[float] = []
    missing = 0
    with psycopg.connect(BENCH_DB) as conn:
        for source in SOURCES:
            rows = conn.execute(
                f"SELECT extract(epoch FROM i.processed_at - e.recorded_at) * 1000 FROM {source}.events e"
                " LEFT JOIN reporting.consumer_inbox i ON i.event_id = e.event_id AND i.consumer = 'reporting'"
                " WHERE e.recorded_at >= to_timestamp(%s) AND e.recorded_at < to_timestamp(%s)", (began, ended)).fetchall()
            reporting += [float(r[0]) for r in rows if r[0] is not None]
            missing += sum(1 for r in rows if r[0] is None)
        approvals = [float(r[0]) for r in conn.execute(
            "SELECT extract(epoch FROM p.recorded_at - s.recorded_at) * 1000 FROM posting.events p"
            " JOIN selection.events s ON s.event_id::text = p.metadata->>'causation_id'"
            " WHERE p.type = 'posting.NominationRecorded'"
            " AND s.recorded_at >= to_timestamp(%s) AND s.recorded_at < to_timestamp(%s)", (began, ended))]
    return {"reporting": reporting, "reporting_missing": missing, "approvals": approvals}


def cluster_horizon_holders(seconds: float = 1.0) -> list[tuple[Any, ...]]:
    """Writing transactions open longer than `seconds` anywhere in the cluster: they hold every feed back."""
    import psycopg

    with psycopg.connect(BENCH_DB) as conn:
        return conn.execute(
            "SELECT datname, round(extract(epoch FROM now() - xact_start)::numeric, 1), left(query, 60)"
            " FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND now() - xact_start > make_interval(secs => %s)",
            (seconds,)).fetchall()


def wait_consumed(timeout: float) -> float:
    """Seconds until every consumer (reporting, and each service's consumer of the others) has applied every
    event it subscribes to (services/topics.py), or the timeout."""
    import psycopg

    from tests.support.consumed import backlog

    began = time.monotonic()
    with psycopg.connect(BENCH_DB, autocommit=True) as conn:
        while time.monotonic() - began < timeout:
            if not any(backlog(conn).values()):
                break
            time.sleep(0.5)
    return time.monotonic() - began


def running_placements(prefix: str) -> list[tuple[str, str]]:
    """(placement id, host unit token) of the mix's started placements that are not overdue."""
    import psycopg

    tokens = dict(HOSTS)
    fresh_from = (datetime.now(UTC).date() - timedelta(days=60)).isoformat()
    with psycopg.connect(BENCH_DB) as conn:
        rows = conn.execute(
            "SELECT p.data->>'placement_id', p.data->>'host_unit' FROM posting.events p"
            " WHERE p.type = 'posting.PlacementPlanned' AND p.data->>'start_date' >= %s AND p.stream LIKE %s"
            " AND EXISTS (SELECT 1 FROM posting.events s WHERE s.stream = p.stream AND s.type = 'posting.PlacementStarted')"
            " ORDER BY p.position", (fresh_from, f"placement-{prefix}-%")).fetchall()
    return [(pid, tokens[host]) for pid, host in rows if host in tokens]


def checkins(urls: list[str], placements: list[tuple[str, str]], prefix: str) -> dict[str, Any]:
    connections = max(1, min(CHECKIN_CONNECTIONS, len(placements) // LOAD_PROCESSES))
    today = datetime.now(UTC).date().isoformat()
    return run_closed([{"kind": "checkin", "urls": urls, "connections": connections, "warmup": 1.0,
                        "seconds": MEASURE_SECONDS, "placements": placements[p::LOAD_PROCESSES], "today": today,
                        "prefix": prefix, "process": p} for p in range(LOAD_PROCESSES)])


# ---------------------------------------------------------------- the run


def main() -> None:
    import psycopg

    from deploy.supervise import Replica, Supervisor
    from services.backbone.migrations import ensure_database

    began = time.monotonic()
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    (WORK_DIR / "logs").mkdir(parents=True)
    memory = Memory()
    out: dict[str, Any] = {}

    # 1. the bare ceiling, and a minimal command beside it
    ensure_database(BENCH_DB)
    with psycopg.connect(BENCH_DB, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {BARE_TABLE}")
        conn.execute(f"CREATE TABLE {BARE_TABLE} (position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                     " event_id uuid NOT NULL UNIQUE, type text NOT NULL, data jsonb NOT NULL,"
                     " recorded_at timestamptz NOT NULL DEFAULT now())")
    bare = Bare()
    memory.watch("bare", bare.proc.pid)
    try:
        ceiling = run_closed([{"kind": "bare", "urls": [bare.url], "connections": BARE_CONNECTIONS,
                               "warmup": WARMUP_SECONDS, "seconds": MEASURE_SECONDS} for _ in range(LOAD_PROCESSES)])
        reference = wrk_reference(bare.url + "/bare")
        cpu_before = memory.cpu()
        minimal = run_closed([{"kind": "insert", "urls": [bare.url], "connections": BARE_CONNECTIONS,
                               "warmup": WARMUP_SECONDS, "seconds": MEASURE_SECONDS} for _ in range(LOAD_PROCESSES)])
        cpu_after = memory.cpu()
    finally:
        bare.stop()
    bare_rps = ceiling["ok_per_s"]
    print(f"bare_http_ceiling_req_per_s={bare_rps:.0f}  (p50 {percentile(ceiling['latencies'], 50):.1f} ms,"
          f" p99 {percentile(ceiling['latencies'], 99):.1f} ms, {ceiling['errors']} errors,"
          f" {LOAD_PROCESSES}x{BARE_CONNECTIONS} connections)", flush=True)
    if reference is not None:
        print(f"  reference: wrk on the same endpoint {reference:.0f} req/s (not used in any ratio)")
    # the machine's CPU per request: every insert of the run (the warm-up's too) against all the CPU from before the
    # load processes were started to after they ended (their start-up too, so this slightly overstates)
    with psycopg.connect(BENCH_DB) as conn:
        inserted = conn.execute(f"SELECT count(*) FROM {BARE_TABLE}").fetchone()[0]  # type: ignore[index]
    minimal_ms = 1000 * (cpu_after.get("machine", float("nan")) - cpu_before.get("machine", float("nan"))) / max(1, inserted)
    out["minimal_cpu_ms"] = minimal_ms
    print(f"minimal_insert_command_req_per_s={minimal['ok_per_s']:.0f}  ({minimal['ok_per_s'] / bare_rps:.0%} of the"
          f" bare ceiling; the bare endpoint inserting one event row, nothing else; p50"
          f" {percentile(minimal['latencies'], 50):.1f} ms, {minimal['errors']} errors; the machine's CPU"
          f" <= {minimal_ms:.2f} ms per request)", flush=True)

    out["floor_cpu_ms"], out["floor_ratio"] = floor_reference(memory, bare_rps)

    # 2. the services
    print(("services: one process each; " if PROCESSES == 1 else f"services: {PROCESSES} processes each; ") + ", ".join(
        f"{name}={os.environ.get(name, default)}" for name, default in
        (("MAX_WORKERS", "10"), ("DB_POOL_SIZE", "10"), ("FOURGATES_RELAY_POLL_SECONDS", "0.2"))), flush=True)
    with psycopg.connect(BENCH_DB, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {BARE_TABLE}")
        for schema in SERVICES:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    prefix = f"b{uuid.uuid4().hex[:6]}"
    with own_vhost() as amqp_uri:
        os.environ.update({"AMQP_URI": amqp_uri, "FOURGATES_DB": BENCH_DB,
                           "FOURGATES_CHAIN_HEAD_DIR": str(WORK_DIR / "chain-heads")})
        supervisor = Supervisor(dict.fromkeys(SERVICES, PROCESSES), WORK_DIR / "logs")
        for replica in supervisor.replicas:
            replica.port = free_port()
        try:
            supervisor.start(timeout=120)
            for replica in supervisor.replicas:
                assert replica.proc is not None
                memory.watch(replica.label, replica.proc.pid)
            urls: dict[str, list[str]] = {}
            for r in supervisor.replicas:
                urls.setdefault(r.service, []).append(f"http://127.0.0.1:{r.port}")
            for step in setup_steps(prefix):
                post(urls[step.service][0], step)
            print(f"services up in {time.monotonic() - began:.0f}s since the start; logs in {WORK_DIR / 'logs'}", flush=True)
            seeded = asyncio.run(seed(urls, prefix + "s", SEED_CADRES))
            quiet = wait_consumed(60)
            print(f"seeded {seeded} running placements (for the replica comparison); all consumed"
                  f" {quiet:.1f}s later, at {time.monotonic() - began:.0f}s", flush=True)
            out.update(mix(urls, prefix, bare_rps, memory))
            if PROCESSES == 1:
                out.update(replicas(supervisor, Replica, memory, prefix, bare_rps))
            else:
                out.update(one_replica=float("nan"), two_replicas=float("nan"))
                print("  (one posting process against two: not measured, every service runs"
                      f" {PROCESSES} processes in this run)")
            memory.sample()
        finally:
            stop_all(supervisor.replicas)
            memory.stop.set()

    # 3. memory and the verdicts
    print("peak memory per process (max of the kernel's VmHWM and sampled RSS):")
    peaks = {}
    for label in memory.pids:
        peaks[label] = memory.peak(label)
        print(f"  {label:<14} {peaks[label]:6.1f} MB")
    service_peak = max(v for k, v in peaks.items() if is_service(k))
    print(f"peak_memory_mb_per_service_process={service_peak:.1f}")
    ratio = out["sustained"] / bare_rps if bare_rps else 0.0
    print("goals:")
    print(f"  mix sustained >= {GOALS['ratio']:.0%} of the bare ceiling: {ratio:.1%}"
          f" -> {'met' if ratio >= GOALS['ratio'] else 'NOT met'}")
    if "mix_cpu_ms" in out and "minimal_cpu_ms" in out:
        print(f"    (the machine spent {out['mix_cpu_ms']:.1f} ms of CPU per mix command, everything included,"
              f" against <= {out['minimal_cpu_ms']:.2f} ms per minimal insert: x{out['mix_cpu_ms'] / out['minimal_cpu_ms']:.1f})")
    if "mix_cpu_ms" in out and "floor_cpu_ms" in out:
        print(f"    (and against <= {out['floor_cpu_ms']:.2f} ms per command of the architecture's floor, which answered"
              f" {out['floor_ratio']:.1%} of the bare ceiling: the mix costs x{out['mix_cpu_ms'] / out['floor_cpu_ms']:.1f}"
              " the floor)")
    lag99 = out["lag_p99"]
    if out["lag_kept_up"]:
        print(f"  p99 projection lag <= {GOALS['lag_p99_ms']:.0f} ms at 100 commands/s: {lag99:.0f} ms"
              f" -> {'met' if lag99 <= GOALS['lag_p99_ms'] else 'NOT met'}")
    else:
        print(f"  p99 projection lag <= {GOALS['lag_p99_ms']:.0f} ms at 100 commands/s: NOT met (100/s was not"
              f" sustained, so there was no steady 100/s to measure at; under that overload p99 was {lag99:.0f} ms)")
    gain = out["two_replicas"] / out["one_replica"] if out["one_replica"] else 0.0
    if PROCESSES > 1:
        print(f"  two posting replicas > one: not measured ({PROCESSES} processes of every service in this run)")
    else:
        print(f"  two posting replicas > one (by {REPLICA_MARGIN:.0%} or more, beyond this machine's noise):"
              f" {out['two_replicas']:.0f} vs {out['one_replica']:.0f} check-ins/s, x{gain:.2f}"
              f" -> {'met' if gain >= 1 + REPLICA_MARGIN else 'NOT met'}")
    print(f"  peak memory <= {GOALS['memory_mb']:.0f} MB per service process: {service_peak:.0f} MB"
          f" -> {'met' if service_peak <= GOALS['memory_mb'] else 'NOT met'}")
    print(f"whole run: {time.monotonic() - began:.0f}s")
    print(f"command_ratio_vs_bare_http={ratio:.3f}")


def mix(urls: dict[str, list[str]], prefix: str, bare_rps: float, memory: Memory) -> dict[str, Any]:
    """The realistic mix, open loop, at rising rates until one is not kept up."""
    print(f"mix, open loop ({commands_per_journey():.1f} commands per cadre journey; kept up = 2xx >= {KEEP_UP:.0%}"
          f" of offered, p99 <= {P99_LIMIT_MS:.0f} ms, errors <= 1%):", flush=True)

    def on_step(index: int, merged: dict[str, Any]) -> bool:
        print(f"  {merged['rate']:5.0f}/s offered: {merged['achieved']:6.1f} cmds/s done, p99 <= {merged['p99']:7.0f} ms,"
              f" {sum(merged['errors'].values())} errors, {merged['early']} early"
              f"{'' if merged['kept_up'] else '  <- not kept up'}", flush=True)
        if holders := cluster_horizon_holders():
            print(f"           (writing transactions elsewhere in the cluster held every feed back: {holders})")
        return bool(merged["kept_up"]) or merged["rate"] < LAG_RATE  # up to 100/s in any case: the lag is measured there

    cpu_before, gc_before, clock = memory.cpu(), gc_seconds(urls), time.monotonic()
    steps = run_ladder(urls, prefix, list(LADDER), on_step)
    cpu_after = memory.cpu()
    machine_ms = cpu_report(cpu_before, cpu_after, time.monotonic() - clock, sum(len(s["latencies"]) for s in steps))
    gc_report(gc_before, gc_seconds(urls), cpu_before, cpu_after)
    kept: list[dict[str, Any]] = []
    for step in steps:
        if not step["kept_up"]:
            break
        kept.append(step)
    sustained = max((s["achieved"] for s in kept), default=0.0)
    peak = max((s["achieved"] for s in steps), default=0.0)
    errors: Counter[str] = sum((s["errors"] for s in steps), Counter())
    kinds = Counter({k: len(v) for s in steps for k, v in s["by_kind"].items()})
    total = sum(kinds.values()) or 1
    print("  mix of the 2xx commands: " + ", ".join(f"{k} {n / total:.0%}" for k, n in kinds.most_common()))
    if errors:
        print(f"  errors: {dict(errors.most_common(6))}")
    print(f"mix_sustained_cmds_per_s={sustained:.0f}  ({sustained / bare_rps:.1%} of the bare ceiling)")
    anywhere = max((s["achieved"] for s in steps if s["kept_up"]), default=0.0)
    print(f"  (best step kept up anywhere on the ladder, even after one that was not: {anywhere:.0f} cmds/s,"
          f" {anywhere / bare_rps:.1%} of the bare ceiling)")
    print(f"mix_peak_cmds_per_s={peak:.0f}  ({peak / bare_rps:.1%} of the bare ceiling: the best step, kept up or not)")
    for step in steps:
        print(f"  at {step['rate']:.0f}/s: HTTP latency p50 {step['p50']:.0f} ms, p99 {step['p99']:.0f} ms;"
              " per command p50/p99 ms: " + ", ".join(
                  f"{k} {percentile(v, 50):.0f}/{percentile(v, 99):.0f}" for k, v in sorted(step["by_kind"].items())))
    at = next((s for s in steps if s["rate"] == LAG_RATE), None)
    drained = wait_consumed(90)
    if kept:
        best = max(kept, key=lambda s: s["achieved"])
        lag_best = lag_figures(best["began"] + SETTLE, best["ended"])
        print(f"  at the sustained step ({best['rate']:.0f}/s offered): projection lag p50"
              f" {percentile(lag_best['reporting'], 50):.0f} ms, p99 {percentile(lag_best['reporting'], 99):.0f} ms"
              f" ({len(lag_best['reporting'])} events)")
    out = {"sustained": sustained, "peak": peak, "lag_p99": float("nan"), "lag_kept_up": False, "mix_cpu_ms": machine_ms}
    if at is None:
        print(f"(the ladder stopped before {LAG_RATE:.0f} commands/s: no projection lag at that rate)")
        return out
    print(f"http_latency_at_100_p50_ms={at['p50']:.1f}  http_latency_at_100_p99_ms={at['p99']:.1f}"
          f"  (achieved {at['achieved']:.0f} cmds/s{'' if at['kept_up'] else ', not kept up'})")
    lag = lag_figures(at["began"] + SETTLE, at["ended"])
    out["lag_p99"], out["lag_kept_up"] = percentile(lag["reporting"], 99), bool(at["kept_up"])
    print(f"projection_lag_at_100_p50_ms={percentile(lag['reporting'], 50):.0f}  projection_lag_at_100_p99_ms="
          f"{out['lag_p99']:.0f}  (source recorded_at -> reporting consumer_inbox.processed_at, {len(lag['reporting'])}"
          f" events, {lag['reporting_missing']} not projected)")
    print(f"approval_to_posting_lag_at_100_p50_ms={percentile(lag['approvals'], 50):.0f}"
          f"  approval_to_posting_lag_at_100_p99_ms={percentile(lag['approvals'], 99):.0f}"
          f"  (selection NominationApproved -> posting NominationRecorded, {len(lag['approvals'])} approvals)")
    print(f"  every consumer had applied every event {drained:.1f}s after the last step", flush=True)
    return out


async def seed(urls: dict[str, list[str]], prefix: str, count: int, parallel: int = 16) -> int:
    """`count` cadres played through selection and posting (up to their check-ins): running placements
    for the replica comparison, made while the log is still small. Returns how many got that far."""
    pools = {service: Pool(addresses, parallel) for service, addresses in urls.items()}
    today = datetime.now(UTC).date()
    gate = asyncio.Semaphore(parallel)

    async def one(n: int) -> bool:
        async with gate:
            for step in journey(prefix, n, today):
                if step.service == "assessment":
                    return True
                for _ in range(120):
                    status, data = await pools[step.service].request(
                        "POST", step.path, step.headers(), json.dumps(step.body, ensure_ascii=False).encode())
                    if not (status == 404 and step.after is not None):
                        break
                    await asyncio.sleep(0.25)
                if status >= 300:
                    return False
            return True

    done = await asyncio.gather(*(one(n) for n in range(count) if not is_stale(n) and not fails_inspection(n)))
    return sum(done)


def replicas(supervisor: Any, replica_cls: Any, memory: Memory, prefix: str, bare_rps: float) -> dict[str, Any]:
    """Posting check-ins, closed loop, on two sets of running placements: one posting process (set A), two
    (set B), then once more each, so that a disturbance on this shared machine does not decide alone."""
    placements = running_placements(prefix + "s")
    half = len(placements) // 2
    sets = {"one": placements[:half], "two": placements[half:]}
    first = supervisor.replicas[[r.service for r in supervisor.replicas].index("posting")]
    urls = {"one": [f"http://127.0.0.1:{first.port}"]}
    figures: dict[str, list[float]] = {"one": [], "two": []}
    for round_ in range(2):
        for label in ("one", "two"):
            if label == "two" and "two" not in urls:
                second = replica_cls("posting", 1, free_port(), WORK_DIR / "logs" / "posting-1.log")
                supervisor.replicas.append(second)
                second.start()
                wait_http(f"http://127.0.0.1:{second.port}/posting/health", timeout=60)
                memory.watch(second.label, second.proc.pid)
                urls["two"] = [*urls["one"], f"http://127.0.0.1:{second.port}"]
            quiet = wait_consumed(30)
            cpu_before, clock = memory.cpu(), time.monotonic()
            result = checkins(urls[label], sets[label], f"{prefix}{label}{round_}")
            cpu_after, seconds = memory.cpu(), time.monotonic() - clock
            busy = (cpu_after.get("machine", 0.0) - cpu_before.get("machine", 0.0)) / (seconds * (os.cpu_count() or 1))
            # each posting process's share of one core: near 100% it is posting that bounds the rate (a second
            # process can add to it); well below, with the machine near full, it is the rest of the system
            posting = ", ".join(f"{name} {(cpu_after[name] - cpu_before.get(name, 0.0)) / seconds:.0%} of a core"
                                for name in cpu_after if name.startswith("posting#"))
            figures[label].append(result["ok_per_s"])
            print(f"  check-ins, {label} posting process{'es' if label == 'two' else ''} (round {round_ + 1}):"
                  f" {result['ok_per_s']:.0f}/s, p50 {percentile(result['latencies'], 50):.0f} ms,"
                  f" p99 {percentile(result['latencies'], 99):.0f} ms, {result['errors']} errors;"
                  f" machine {busy:.0%} busy{'; ' + posting if posting else ''}"
                  f", reporting#0 {(cpu_after.get('reporting#0', 0.0) - cpu_before.get('reporting#0', 0.0)) / seconds:.0%}"
                  f"{rest_report(cpu_before, cpu_after, seconds)} (consumers idle after {quiet:.1f}s)",
                  flush=True)
    one, two = (sum(figures[k]) / len(figures[k]) for k in ("one", "two"))
    print(f"posting_checkins_one_replica_per_s={one:.0f}  ({one / bare_rps:.1%} of the bare ceiling)")
    print(f"posting_checkins_two_replicas_per_s={two:.0f}  ({two / bare_rps:.1%} of the bare ceiling)")
    print(f"  two replicas / one = {two / one if one else float('nan'):.2f}  (means of two rounds; {len(placements)} running"
          f" placements, closed loop, {LOAD_PROCESSES}x{max(1, min(CHECKIN_CONNECTIONS, half // LOAD_PROCESSES))}"
          " connections)", flush=True)
    return {"one_replica": one, "two_replicas": two}


if __name__ == "__main__":
    main()
