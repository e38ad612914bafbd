"""Reporting benchmark: rebuild throughput over 1,000,000 events, and projection lag at a steady 100 events/s.

Run as `python -m bench.rebuild` (`make bench-rebuild`). Uses its own database (`fourgates_bench_reporting`,
override with FOURGATES_BENCH_REPORTING_DB) and a throw-away RabbitMQ vhost:

1. history: a generated county-scale history in the three source schemas (selection, posting, assessment):
   cadres going through every gate in cohorts, ~74 events each, realistic payloads and metadata. Written
   once with COPY and reused while its marker matches (BENCH_EVENTS, GENERATOR); the sources' relay
   checkpoints are set to its end, as if it had been published long ago.
2. plain read: every source's events with a plain `SELECT ... ORDER BY era, tx_id, position` over a
   server-side cursor, rows decoded by psycopg (jsonb to dicts) — the physical limit for this design.
3. feed read alone: the three feeds read as the rebuild reads them (one process each, `read_feed_page`,
   decoded into SourceEvents) with nothing projected and nothing written: the ceiling of any rebuild that
   reads through the sources' feeds, with its CPU per event.
4. rebuild: `services.reporting.rebuild.run_rebuild` in this process, reading the three feeds through the
   sources' `read_feed` RPC (three stand-in source processes), projecting into a fresh schema and switching
   it in. Throughput = events / time to load them; resident memory sampled every 0.2 s.
5. lag: a real reporting process on the rebuilt schema; events appended round-robin to the three sources at a
   steady 100 events/s; lag = commit of the append -> the event's row visible in reporting.timeline (polled
   every 5 ms). Run with the relays' default poll (0.2 s) and with 0.05 s.

The last printed line is `rebuild_events_per_s=<number>`.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import queue
import resource
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from services.backbone.domain import Actor
from services.backbone.envelope import Metadata, NewEvent

BENCH_DB = os.environ.get("FOURGATES_BENCH_REPORTING_DB",
                          "host=127.0.0.1 hostaddr=127.0.0.1 port=5432 user=postgres dbname=fourgates_bench_reporting")
BENCH_EVENTS = int(os.environ.get("BENCH_EVENTS", 1_000_000))
LAG_SECONDS = float(os.environ.get("BENCH_LAG_SECONDS", 20))
LAG_RATE = 100
GOAL_RATE, GOAL_RATIO, GOAL_P99_MS = 30_000, 0.25, 250
SOURCES = ("selection", "posting", "assessment")
ROOT = Path(__file__).resolve().parents[1]


GENERATOR = "county-v2"  # v2: assessment ids "<placement>/<year>", as the service makes them
COHORT = 500
UNITS = {"sending": ["county-finance", "county-education", "county-development", "county-commerce", "county-water"],
         "host": ["qingshui-township", "baima-township", "county-petition-office", "city-development-commission",
                  "lingxi-township", "shiqiao-township"]}
TYPES = ["gap_filling"] * 19 + ["strength"] * 5 + ["docking"] * 3
OD = Actor("od.zhang", "organisation_department", "county-od")
PC = Actor("pc.chen", "party_committee", "county-pc")
HR = Actor("hr.sync", "integration", "county-hr")
RATER = Actor("anonymous-rater", "anonymous", None)
SERVICE = Actor("service:assessment", "integration", None)
POLICY = {"version": "assess-2025", "effective_from": "2025-01-01", "min_group_count": 5, "excellent_cap": 0.2,
          "min_approval_share": 0.6667, "max_incompetent_share": 0.3333, "democratic_weight": 0.4,
          "performance_weight": 0.6, "group_weights": {"leaders": 0.3, "colleagues": 0.4, "public": 0.3},
          "dimension_weights": {"work_performance": 0.5, "public_recognition": 0.3, "quality_improvement": 0.2},
          "grade_points": {"excellent": 100, "competent": 80, "basically_competent": 60, "incompetent": 0},
          "grade_thresholds": {"excellent": 90, "competent": 75, "basically_competent": 60}}
TERMS = {"tasks": ["协助分管信访工作", "参与重点项目推进"], "term_goals": ["化解信访积案3件"],
         "post_requirements": ["每月驻村不少于20天"], "reward_conditions": ["考核优秀予以通报表扬"],
         "penalty_conditions": ["违反纪律予以召回"]}
Step = tuple[str, str, dict[str, Any], Actor, str | None]


def cadre_history(i: int) -> dict[str, list[Step]]:
    """One cadre through every gate: the events each source records, in order (~74 in all)."""
    c, n, p = f"c{i:06d}", f"n{i:06d}", f"p{i:06d}"
    a = f"{p}/2025"  # as the assessment service names a placement's annual assessment
    home, host = UNITS["sending"][i % 5], UNITS["host"][i % 6]
    kind, sending = TYPES[i % 27], Actor(f"{home}.hr", "sending_unit", home)
    hosting = Actor(f"{host}.hr", "host_unit", host)
    placed = {"placement_id": p, "nomination_id": n, "cadre_id": c, "cadre_rank": "deputy_section", "placement_type": kind,
              "home_unit": home, "host_unit": host, "host_post": "副镇长", "post_level": "deputy_section",
              "posting_mode": "same_level", "term_months": 12, "start_date": "2025-03-01"}
    criteria = [{"criterion": k, "passed": True, "hard": k != "reserve_cadre", "detail": "符合"} for k in
                ("no_grassroots_experience", "age_under_cap", "fit_for_duty", "reserve_cadre", "no_open_disciplinary_matter")]
    selection: list[Step] = [
        (f"cadre-{c}", "selection.CadreRegistered", {"cadre_id": c, "name": f"干部{i}", "rank": "deputy_section",
         "home_unit": home, "birth_date": "1991-04-02", "grassroots_experience": False, "fit_for_duty": True,
         "reserve_cadre": True, "open_disciplinary_matter": False}, HR, None),
        (f"nomination-{n}", "selection.NominationRecommended", {**{k: placed[k] for k in ("nomination_id", "cadre_id",
         "placement_type", "host_unit", "host_post", "post_level", "posting_mode")}, "sending_unit": home,
         "cadre_rank": "deputy_section", "reason": "年轻干部缺少基层经历", "recommended_on": "2025-01-10",
         "nominated_by": sending.principal, "policy_version": "county-2025", "criteria": criteria, "eligible": True},
         sending, "年轻干部缺少基层经历"),
        (f"nomination-{n}", "selection.NominationInspected", {"nomination_id": n, "cadre_id": c, "findings": "德才兼备，群众公认",
         "passed": True, "inspected_by": OD.principal}, OD, None),
        (f"nomination-{n}", "selection.NominationApproved", {**{k: placed[k] for k in ("nomination_id", "cadre_id",
         "placement_type", "host_unit", "host_post", "post_level", "posting_mode")}, "sending_unit": home,
         "decision_ref": "县委〔2025〕12号", "decision_date": "2025-02-01", "decided_by": PC.principal,
         "cadre_rank": "deputy_section"}, PC, None)]
    posting: list[Step] = [
        (f"nomination-{n}", "posting.NominationRecorded", {k: placed[k] for k in ("nomination_id", "cadre_id", "cadre_rank",
         "home_unit", "placement_type", "host_unit", "host_post", "post_level", "posting_mode")}, SERVICE, None),
        (f"placement-{p}", "posting.PlacementPlanned", placed, OD, None),
        (f"nomination-{n}", "posting.NominationPlaced", {"nomination_id": n, "placement_id": p}, OD, None),
        (f"placement-{p}", "posting.AgreementDrafted", {"placement_id": p, "version": 1, **TERMS}, OD, None)]
    posting += [(f"placement-{p}", "posting.AgreementSigned", {"placement_id": p, "version": 1, "party": party,
                 "signed_by": actor.principal}, actor, None)
                for party, actor in (("organisation_department", OD), ("sending_unit", sending), ("host_unit", hosting))]
    posting.append((f"placement-{p}", "posting.PlacementStarted", {"placement_id": p, "started_on": "2025-03-01",
                    "ends_on": "2026-03-01"}, hosting, None))
    for month in range(12):
        posting.append((f"placement-{p}", "posting.CheckInRecorded", {"placement_id": p,
                        "checked_on": f"2025-{month % 12 + 1:02d}-15",
                        "thinking": "思想稳定，安心基层", "work": "协助推进重点项目，走访群众", "met_by": OD.principal,
                        "notes": "按月督查"}, OD, None))
        if month == 5:
            posting += [(f"placement-{p}", "posting.CheckInOverdue", {"placement_id": p, "last_seen_on": "2025-06-15",
                         "days_without_check_in": 62, "max_days": 60, "raised_on": "2025-08-16"}, SERVICE, None),
                        (f"placement-{p}", "posting.CheckInOverdueCleared", {"placement_id": p, "cleared_on": "2025-08-20"},
                         SERVICE, None)]
    posting += [(f"placement-{p}", "posting.TrainingRecorded", {"placement_id": p, "course": course, "provider": "县委党校",
                 "hours": 16, "completed_on": "2025-05-01"}, OD, None) for course in ("乡村振兴专题", "信访工作实务")]
    posting += [(f"placement-{p}", "posting.AttendanceReported", {"placement_id": p, "kind": "attendance",
                 "from_date": "2025-03-01", "to_date": "2025-08-31", "days": 120, "notes": ""}, hosting, None)] * 2
    posting += [(f"placement-{p}", "posting.RewardDecided", {"placement_id": p, "description": "通报表扬",
                 "basis": "年度考核优秀", "decided_on": "2025-12-20"}, OD, "年度考核优秀"),
                (f"placement-{p}", "posting.PlacementCompleted", {"placement_id": p, "outcome": "returned",
                 "completed_on": "2026-03-01"}, OD, None)]
    noted = lambda t, d: (f"roster-{p}", "assessment.PlacementEventNoted", {"placement_id": p, "source_type": t,  # noqa: E731
                                                                              "source_event_id": str(uuid.uuid4()), "data": d},
                          SERVICE, None)
    assessment: list[Step] = [
        noted("posting.PlacementPlanned", {k: placed[k] for k in ("placement_id", "cadre_id", "host_unit", "home_unit",
                                                                   "placement_type")}),
        noted("posting.PlacementStarted", {"placement_id": p, "started_on": "2025-03-01", "ends_on": "2026-03-01"}),
        (f"assessment-{a}", "assessment.AssessmentOpened", {"assessment_id": a, "kind": "annual", "year": 2025,
         "placement_id": p, "cadre_id": c, "host_unit": host, "home_unit": home, "placement_type": kind,
         "policy_version": "assess-2025", "policy": POLICY}, hosting, None),
        (f"assessment-{a}", "assessment.SelfEvaluationEntered", {"assessment_id": a, "entry_id": "E2",
         "text": "一年来，本人认真履行挂职岗位职责，积极参与重点项目推进和信访矛盾化解，思想认识和工作能力均有提高。"},
         hosting, None)]
    groups = ("leaders", "colleagues", "public")
    assessment += [(f"assessment-{a}", "assessment.BallotTokensIssued", {"assessment_id": a, "entry_id": f"E{3 + g}",
                    "rater_group": group, "count": 10}, hosting, None) for g, group in enumerate(groups)]
    grades = ("excellent", "competent", "competent", "excellent", "basically_competent")
    assessment += [(f"assessment-{a}", "assessment.BallotCast", {"assessment_id": a, "entry_id": f"E{6 + b}",
                    "rater_group": groups[b % 3], "grade": grades[(b + i) % 5]}, RATER, None) for b in range(30)]
    assessment += [(f"assessment-{a}", "assessment.PerformanceScoreEntered", {"assessment_id": a, "entry_id": f"E{36 + d}",
                    "dimension": dim, "score": 85.0 + d, "evidence": "实绩分析报告"}, hosting, None)
                   for d, dim in enumerate(("work_performance", "public_recognition", "quality_improvement"))]
    assessment += [(f"assessment-{a}", "assessment.AssessmentFinalised", {"assessment_id": a, "cadre_id": c, "placement_id": p,
                    "host_unit": host, "year": 2025, "kind": "annual", "final_grade": "competent",
                    "proposed_grade": "competent", "composite": 84.2, "policy_version": "assess-2025", "reason": None},
                    hosting, None),
                   noted("posting.PlacementCompleted", {"placement_id": p, "completed_on": "2026-03-01", "outcome": "returned"})]
    return {"selection": selection, "posting": posting, "assessment": assessment}


def metadata(actor: Actor, reason: str | None, at: str) -> str:
    command = str(uuid.uuid4())
    return json.dumps({"actor": {"principal": actor.principal, "role": actor.role, "unit": actor.unit},
                       "command_id": command, "correlation_id": command, "causation_id": None, "source": "bench",
                       "reason": reason, "policy_version": None, "occurred_at": at}, ensure_ascii=False)


def ensure_history(db: str, events: int) -> int:
    """The generated history in the source schemas (regenerated only when its marker differs); returns its size."""
    from services.backbone.migrations import ensure_database, migrate

    ensure_database(db)
    marker = f"{GENERATOR}:{events}"
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.bench_history (marker text PRIMARY KEY)")
        if conn.execute("SELECT 1 FROM public.bench_history WHERE marker = %s", (marker,)).fetchone():
            print(f"history: {events:,} generated events already in place ({marker})", flush=True)
            return events
        conn.execute("DELETE FROM public.bench_history")
        for source in SOURCES:
            conn.execute(f"DROP SCHEMA IF EXISTS {source} CASCADE")
    for source in SOURCES:
        migrate(db, source)
    began = time.perf_counter()
    written = write_history(db, events)
    with psycopg.connect(db, autocommit=True) as conn:
        for source in SOURCES:
            conn.execute(f"ANALYZE {source}.events")
            conn.execute(f"INSERT INTO {source}.relay_checkpoint (relay, era, tx_id, position) SELECT 'main', era,"  # noqa: S608
                         f" tx_id::text::bigint, position FROM {source}.events ORDER BY era DESC, tx_id DESC, position DESC"
                         f" LIMIT 1 ON CONFLICT (relay) DO NOTHING")
        conn.execute("INSERT INTO public.bench_history (marker) VALUES (%s)", (marker,))
    print(f"history: generated {written:,} events in {time.perf_counter() - began:.0f}s", flush=True)
    return written


def write_history(db: str, events: int) -> int:
    """Cohorts of cadres, each source's events of a cohort interleaved step by step, COPYed in one transaction."""
    written, cadre, at = 0, 0, datetime.now(UTC).isoformat()
    with psycopg.connect(db) as conn:
        while written < events:
            histories = [cadre_history(i) for i in range(cadre, cadre + COHORT)]
            cadre += COHORT
            with conn.transaction():
                for source in SOURCES:
                    versions: dict[str, int] = {}
                    with conn.cursor().copy(f"COPY {source}.events (stream, version, event_id, type, schema_version, data,"
                                            " metadata) FROM STDIN") as copy:
                        steps = [h[source] for h in histories]
                        for k in range(max(len(s) for s in steps)):
                            for history in steps:
                                if k >= len(history) or written >= events:
                                    continue
                                stream, type_, data, actor, reason = history[k]
                                versions[stream] = versions.get(stream, 0) + 1
                                copy.write_row((stream, versions[stream], uuid.uuid4(), type_, 1,
                                                json.dumps(data, ensure_ascii=False), metadata(actor, reason, at)))
                                written += 1
    return written


def lag_event(source: str, i: int) -> tuple[str, NewEvent]:
    """A new event about an entity of the history: a reserve-pool change, a check-in, a score."""
    k = i % 1000
    if source == "selection":
        stream, type_, data = f"cadre-c{k:06d}", "selection.CadreAddedToReservePool", {"cadre_id": f"c{k:06d}",
                                                                                        "reason": "后备干部调整"}
    elif source == "posting":
        stream, type_, data = f"placement-p{k:06d}", "posting.CheckInRecorded", {
            "placement_id": f"p{k:06d}", "checked_on": "2026-01-15", "thinking": "稳定", "work": "扎实", "met_by": "od.zhang",
            "notes": ""}
    else:
        stream, type_, data = f"assessment-p{k:06d}/2025", "assessment.PerformanceScoreAdjusted", {
            "assessment_id": f"p{k:06d}/2025", "entry_id": f"X{i}", "dimension": "work_performance", "delta": 1.0,
            "reason": "奖励加分"}
    command = str(uuid.uuid4())
    meta = Metadata(OD, command, command, source, datetime.now(UTC), reason="bench")
    return stream, NewEvent(uuid.uuid4(), type_, 1, data, meta)


def rss_mb(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on the machine, and of the backends that have exited (counted in
    the postmaster's children's time); other databases' work is included: a quiet machine is assumed."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
            except OSError:
                continue
    return total / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rebuild_rss_mb() -> float:
    """Resident memory of this process and of the rebuild's per-source worker processes."""
    return rss_mb() + sum(rss_mb(child.pid) for child in multiprocessing.active_children() if child.pid)


def plain_read() -> tuple[int, float]:
    """Every source event with a plain SELECT in feed order, fetched 5000 rows at a time."""
    began, count = time.perf_counter(), 0
    with psycopg.connect(BENCH_DB) as conn:
        for source in SOURCES:
            with conn.cursor(name=f"plain_{source}") as cur:
                cur.itersize = 5000
                cur.execute(f"SELECT event_id, stream, version, type, schema_version, data, metadata, era,"  # noqa: S608
                            f" tx_id::text::bigint, position, recorded_at FROM {source}.events ORDER BY era, tx_id, position")
                for _ in cur:
                    count += 1
    return count, time.perf_counter() - began


class MemoryProbe:
    """Samples this process's resident memory while a phase runs."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        began = time.perf_counter()
        while not self.stop.wait(0.2):
            self.samples.append((time.perf_counter() - began, rebuild_rss_mb()))

    def __enter__(self) -> MemoryProbe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def at(self, seconds: float) -> float:
        """RSS sampled at (or just after) `seconds` into the phase."""
        return next((mb for t, mb in self.samples if t >= seconds), self.samples[-1][1] if self.samples else rss_mb())


def read_one_feed(config: dict[str, Any], source: str, out: multiprocessing.Queue[int]) -> None:
    """A rebuild's loader without its work: one source's feed read through `read_feed_page` and decoded into
    SourceEvents, as `load_source` reads it, nothing projected, nothing written."""
    from services.backbone.envelope import FEED_START
    from services.reporting.feeds import BULK_PAGE, FeedReader, Page, from_cloudevent, rpc_bulk_feeds

    pages: queue.Queue[Page] = queue.Queue(maxsize=3)
    FeedReader(source, lambda: rpc_bulk_feeds(config), FEED_START, pages, page=BULK_PAGE).start()
    count = 0
    while True:
        _, item = pages.get()
        if isinstance(item, Exception):
            raise item
        if item is None:
            break
        count += len([from_cloudevent(source, body) for body in item])
    out.put(count)


def feed_read(amqp_uri: str, source_pids: list[int]) -> dict[str, Any]:
    """The three feeds read as the rebuild reads them (one process each) with no projection and no writes:
    the most any rebuild through the sources' feeds could do on this machine."""
    config = {"AMQP_URI": amqp_uri, "SERIALIZER": "json"}
    cpu_before = (children_cpu_seconds(), sum(cpu_seconds(pid) for pid in source_pids), postgres_cpu_seconds())
    context = multiprocessing.get_context("spawn")
    counts: multiprocessing.Queue[int] = context.Queue()
    began = time.perf_counter()
    readers = [context.Process(target=read_one_feed, args=(config, source, counts), daemon=True) for source in SOURCES]
    for reader in readers:
        reader.start()
    total = sum(counts.get(timeout=600) for _ in readers)
    seconds = time.perf_counter() - began
    for reader in readers:
        reader.join()
    cpu = (children_cpu_seconds() - cpu_before[0], sum(cpu_seconds(pid) for pid in source_pids) - cpu_before[1],
           postgres_cpu_seconds() - cpu_before[2])
    return {"events": total, "rate": total / seconds, "seconds": seconds,
            "cpu_us": dict(zip(("readers", "sources", "postgres"), (c / total * 1e6 for c in cpu), strict=True))}


def rebuild(amqp_uri: str, applied_events: int, source_pids: list[int]) -> dict[str, Any]:
    from services.reporting.rebuild import run_rebuild

    with psycopg.connect(BENCH_DB, autocommit=True) as conn:
        for (name,) in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'reporting%%'").fetchall():
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    config = {"AMQP_URI": amqp_uri, "SERIALIZER": "json"}
    cpu_before = (cpu_seconds(), children_cpu_seconds(), sum(cpu_seconds(pid) for pid in source_pids),
                  postgres_cpu_seconds())
    with MemoryProbe() as memory:
        result = run_rebuild(BENCH_DB, config, "reporting_rebuild_bench", show=sys.stdout.isatty(),
                             batch=int(os.environ.get("BENCH_BATCH", 5000)))
    total = sum(result["applied"].values())
    assert total == applied_events, f"rebuilt {total} events, expected {applied_events}"
    cpu = (cpu_seconds() - cpu_before[0] + children_cpu_seconds() - cpu_before[1],
           sum(cpu_seconds(pid) for pid in source_pids) - cpu_before[2], postgres_cpu_seconds() - cpu_before[3])
    return {**result, "events": total, "rate": total / result["load_seconds"],
            "cpu_us": {"rebuild": cpu[0] / total * 1e6, "sources": cpu[1] / total * 1e6, "postgres": cpu[2] / total * 1e6},
            "rss": {share: memory.at(share * result["load_seconds"]) for share in (0.1, 0.25, 0.5, 0.75, 0.98)}}


def lag_run(amqp_uri: str, seconds: float) -> list[float]:
    """Append at LAG_RATE events/s round-robin to the sources; return each event's lag in ms."""
    committed: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def poll() -> None:
        with psycopg.connect(BENCH_DB, autocommit=True) as conn:
            while not stop.is_set() or len(seen) < len(committed):
                with lock:
                    pending = [k for k in committed if k not in seen]
                if pending:
                    rows = conn.execute("SELECT event_id::text FROM reporting.timeline WHERE event_id = ANY(%s::uuid[])",
                                        (pending,)).fetchall()
                    now = time.perf_counter()
                    for (event_id,) in rows:
                        seen[event_id] = now
                if stop.is_set() and time.perf_counter() > deadline + 10:
                    break
                time.sleep(0.005)

    from services.backbone.store import EventStore

    with ConnectionPool(BENCH_DB, min_size=3, max_size=3) as pool:
        stores = {s: EventStore(pool, s) for s in SOURCES}
        began = time.perf_counter()
        deadline = began + seconds
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        i = 0
        while time.perf_counter() < deadline:
            source = SOURCES[i % 3]
            stream, event = lag_event(source, i)
            stores[source].append(stream, [event])
            with lock:
                committed[str(event.event_id)] = time.perf_counter()
            i += 1
            time.sleep(max(0.0, began + i / LAG_RATE - time.perf_counter()))
        stop.set()
        poller.join()
    return [(seen[k] - committed[k]) * 1000 for k in committed if k in seen]


def load() -> str:
    """The machine's load averages (1, 5, 15 min): this benchmark shares its CPUs with whatever else runs."""
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    began = time.perf_counter()
    print(f"reporting benchmark: database {BENCH_DB.split('dbname=')[-1]}, {os.cpu_count()} CPU(s), "
          f"Python {sys.version.split()[0]}, {BENCH_EVENTS:,} events; load average {load()}", flush=True)
    ensure_history(BENCH_DB, BENCH_EVENTS)
    if os.environ.get("BENCH_ONLY") == "lag":  # a quick look at the lag alone, on the schema the last run rebuilt
        lag_only()
        return
    plain_count, plain_seconds = plain_read()
    plain_rate = plain_count / plain_seconds
    print(f"plain read: {plain_count:,} events in {plain_seconds:.1f}s = {plain_rate:,.0f} events/s", flush=True)
    with running_sources() as (amqp_uri, env, logs, sources):
        pids = [p.proc.pid for p in sources if p.proc]
        feed = feed_read(amqp_uri, pids)
        cpu = feed["cpu_us"]
        print(f"feed read alone (no projection, no writes): {feed['events']:,} events in {feed['seconds']:.1f}s = "
              f"{feed['rate']:,.0f} events/s; CPU per event: readers {cpu['readers']:.0f} µs, source services "
              f"{cpu['sources']:.0f} µs, PostgreSQL {cpu['postgres']:.0f} µs = {sum(cpu.values()):.0f} µs, at most "
              f"{os.cpu_count() or 1} cores / {sum(cpu.values()):.0f} µs = "
              f"{(os.cpu_count() or 1) / sum(cpu.values()) * 1e6:,.0f} events/s", flush=True)
        result = rebuild(amqp_uri, plain_count, pids)  # + earlier lag runs' events
        print(f"rebuild: {result['events']:,} events loaded in {result['load_seconds']:.1f}s = {result['rate']:,.0f} "
              f"events/s ({result['rate'] / plain_rate:.2f} of the plain read); total with indexes and switch "
              f"{result['seconds']:.1f}s; {result['rate'] / feed['rate']:.2f} of the feed read alone", flush=True)
        print(f"CPU per event: rebuild processes {result['cpu_us']['rebuild']:.0f} µs, source services (read_feed_page) "
              f"{result['cpu_us']['sources']:.0f} µs, PostgreSQL {result['cpu_us']['postgres']:.0f} µs (all its processes)",
              flush=True)
        rss = result["rss"]
        print("memory (RSS of the rebuild's processes, MB) at 10/25/50/75/98% of the load: "
              + " / ".join(f"{rss[s]:.0f}" for s in sorted(rss)), flush=True)
        lags = measure_lag(amqp_uri, env, logs, sources)
    report(plain_rate, feed, result, lags, time.perf_counter() - began)


def lag_only() -> None:
    with running_sources() as (amqp_uri, env, logs, sources):
        measure_lag(amqp_uri, env, logs, sources)


@contextmanager
def running_sources() -> Iterator[tuple[str, dict[str, str], Path, list[Any]]]:
    """A throw-away vhost and the three stand-in source processes: (amqp_uri, env, log dir, processes)."""
    from tests.support.api import free_port
    from tests.support.processes import ServiceProcess, throwaway_vhost

    logs = ROOT / "var" / "bench-rebuild"
    logs.mkdir(parents=True, exist_ok=True)
    with throwaway_vhost() as amqp_uri:
        env = {"AMQP_URI": amqp_uri, "FOURGATES_DB": BENCH_DB, "DB_POOL_SIZE": "4"}
        # the stand-in sources of the reporting tests: a log, its relay and feed RPC, nothing else
        sources = [ServiceProcess(f"tests.support.reporting_system:Fake{s.title()}", s,
                                  {**env, "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}, logs).start() for s in SOURCES]
        try:
            yield amqp_uri, env, logs, sources
        finally:
            for process in sources:
                process.stop()


def measure_lag(amqp_uri: str, env: dict[str, str], logs: Path, sources: list[Any]) -> dict[str, list[float]]:
    from tests.support.api import free_port
    from tests.support.processes import ServiceProcess

    lags: dict[str, list[float]] = {}
    reporting = ServiceProcess("services.reporting.service", "reporting",
                               {**env, "DB_POOL_SIZE": "10", "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}, logs).start()
    try:
        for poll in ("0.2", "0.05"):
            for i, process in enumerate(sources):
                process.stop()
                sources[i] = ServiceProcess(process.module, process.service,
                                            {**process.env, "FOURGATES_RELAY_POLL_SECONDS": poll}, logs).start()
            time.sleep(1)
            pid = reporting.proc.pid if reporting.proc else "self"
            before = cpu_seconds(pid)
            lags[poll] = lag_run(amqp_uri, LAG_SECONDS)
            values = lags[poll]
            per_event = (cpu_seconds(pid) - before) / max(len(values), 1) * 1000
            print(f"lag at {LAG_RATE} events/s for {LAG_SECONDS:.0f}s, relay poll {poll}s: {len(values)} of "
                  f"{int(LAG_SECONDS * LAG_RATE)} events seen, p50 {percentile(values, 50):.0f} ms, "
                  f"p99 {percentile(values, 99):.0f} ms, max {max(values):.0f} ms; reporting process CPU "
                  f"{per_event:.1f} ms per event; load average {load()}", flush=True)
    finally:
        reporting.stop()
    return lags


def report(plain_rate: float, feed: dict[str, Any], result: dict[str, Any], lags: dict[str, list[float]],
           seconds: float) -> None:
    rate, ratio = result["rate"], result["rate"] / plain_rate
    rss = result["rss"]
    growth = rss[0.98] - rss[0.25]
    default = lags["0.2"]
    p99 = percentile(default, 99)
    verdict = lambda ok: "met" if ok else "MISSED"  # noqa: E731
    print()
    print("| measure | result | goal | verdict |")
    print("| --- | ---: | --- | --- |")
    print(f"| rebuild throughput, {result['events']:,} events | {rate:,.0f} events/s | ≥ {GOAL_RATE:,} | "
          f"{verdict(rate >= GOAL_RATE)} |")
    print(f"| rebuild / plain SELECT ({plain_rate:,.0f} events/s) | {ratio:.2f} | ≥ {GOAL_RATIO} | "
          f"{verdict(ratio >= GOAL_RATIO)} |")
    print(f"| rebuild / the feeds read alone ({feed['rate']:,.0f} events/s) | {rate / feed['rate']:.2f} | (no goal) | – |")
    print(f"| memory growth from 25% to 98% of the load | {growth:+.0f} MB (peak {max(rss.values()):.0f} MB) | flat | "
          f"{verdict(growth < 50)} |")
    for poll, values in lags.items():
        print(f"| lag p50 / p99 at {LAG_RATE} ev/s, relay poll {poll}s | {percentile(values, 50):.0f} / "
              f"{percentile(values, 99):.0f} ms | p99 ≤ {GOAL_P99_MS} ms | {verdict(percentile(values, 99) <= GOAL_P99_MS)} |")
    print(f"total {seconds:.0f} s (default relay poll p99: {p99:.0f} ms); load average now {load()}")
    print(f"rebuild_events_per_s={rate:.0f}")


if __name__ == "__main__":
    main()
