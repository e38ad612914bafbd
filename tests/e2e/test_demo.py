"""The main job in one command: every service started by the supervisor (on free ports, against a
database and a RabbitMQ vhost of the test's own), the demo scenario played through the HTTP API,
its summary checked, and a second run shown to change nothing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from deploy import demo_data as data
from deploy.supervise import ROOT, Supervisor, available_services
from tests.conftest import sibling_db
from tests.support.api import free_port
from tests.support.processes import throwaway_vhost

DB = os.environ.get("FOURGATES_TEST_DEMO_DB", sibling_db("demo"))
SCHEMAS = ("selection", "posting", "assessment", "reporting")


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from services.backbone.migrations import ensure_database

    ensure_database(DB)
    with psycopg.connect(DB, autocommit=True) as conn:
        for schema in SCHEMAS:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    root = tmp_path_factory.mktemp("demo")
    heads = root / "chain-heads"
    with throwaway_vhost() as amqp_uri, pytest.MonkeyPatch.context() as env:
        # The supervisor hands its own environment to every replica it starts (and restarts).
        env.setenv("AMQP_URI", amqp_uri)
        env.setenv("FOURGATES_DB", DB)
        env.setenv("FOURGATES_CHAIN_HEAD_DIR", str(heads))
        env.delenv("PSYCOPG_WAIT_FUNC", raising=False)  # each service must make psycopg cooperative itself
        supervisor = Supervisor({service: 1 for service in available_services()}, root / "logs")
        for replica in supervisor.replicas:
            replica.port = free_port()
        try:
            supervisor.start(timeout=90)
            urls = {r.service: f"http://127.0.0.1:{r.port}" for r in supervisor.replicas}
            yield {"urls": urls, "heads": heads, "root": root, "logs": root / "logs", "runs": []}
        finally:
            with ThreadPoolExecutor() as pool:  # side by side: a service may take seconds to drain on SIGTERM
                list(pool.map(lambda replica: replica.stop(), supervisor.replicas))


def play(system: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """`python -m deploy.demo` against the test's services; its summary (as JSON) and what it printed."""
    run = len(system["runs"]) + 1
    summary_path = system["root"] / f"summary-{run}.json"
    args = [f"--{service}-url={url}" for service, url in system["urls"].items()]
    args += [f"--db={DB}", f"--heads={system['heads']}", f"--json={summary_path}"]
    done = subprocess.run([sys.executable, "-m", "deploy.demo", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=150, env={**os.environ, "COLUMNS": "160", "PYTHONPATH": str(ROOT)})
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in sorted(system["logs"].glob("*.log")))
    assert done.returncode == 0, f"{done.stdout[-5000:]}\n{done.stderr[-3000:]}\n{logs}"
    summary = json.loads(summary_path.read_text())
    system["runs"].append(summary)
    return summary, done.stdout


def event_counts() -> dict[str, int]:
    """Rows in each service's own event log, counted in the tables themselves."""
    with psycopg.connect(DB) as conn:
        present = {r[0] for r in conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'events'")}
        return {s: int(conn.execute(f"SELECT count(*) FROM {s}.events").fetchone()[0])  # type: ignore[index]
                for s in SCHEMAS if s in present}


def seals_every_event(service: str) -> bool:
    """Whether the service runs a sequencer that seals its events into the audit chain."""
    return "SequencerProvider(" in (ROOT / "services" / service / "service.py").read_text()


def test_the_demo_plays_the_whole_scenario_and_summarises_it(system: dict[str, Any]) -> None:
    summary, printed = play(system)

    assert summary["cadres"] == 27 and summary["reserve_pool"] == sum(c.reserve for c in data.CADRES)
    assert summary["nominations"] == {"total": 27, "by_status": {"approved": 27}}
    placements = summary["placements"]
    assert placements["total"] == 27
    assert placements["by_type"] == {"gap_filling": 19, "strength": 5, "docking": 3} == summary["plan"]
    assert placements["by_status"] == {"completed": 27} and placements["signed"] == placements["started"] == 27
    assert placements["outcomes"] == {"returned": 20, "retained": 3, "promoted": 4}
    assert placements["check_ins"] >= 4 * 27 and placements["trainings"] == 27 and placements["extended"] == 2
    assessments = summary["assessments"]
    assert assessments["total"] == assessments["finalised"] == 27
    assert assessments["grades"] == {"excellent": 4, "competent": 21, "basically_competent": 2, "incompetent": 0}
    for unit, grades in assessments["by_host_unit"].items():  # the 20% cap per host unit and year
        assert grades.get("excellent", 0) <= 0.2 * sum(grades.values()), unit
    assert assessments["held_back_by_cap"] == 1
    assert assessments["grades_in_selection"] == 27  # every final grade arrived back in selection
    assert summary["teams"]["units"] == 5 and summary["teams"]["survey"] is True
    assert all(summary["teams"]["grades"].values())
    # the units' names come back from selection's register, where the demo recorded them
    assert data.UNIT_NAMES.items() <= summary["unit_names"].items()

    counts = event_counts()
    assert summary["commands"]["new"] == summary["commands"]["sent"] > 600
    assert summary["commands"]["replayed"] == 0 and summary["commands"]["ballots"] > 0
    for service, verified in summary["audit"].items():
        assert verified["ok"], (service, verified)
        assert verified["events"] == counts[service]
        if seals_every_event(service):
            assert verified["checked"] == verified["events"] > 0, (service, verified)

    if "reporting" in system["urls"] and summary["reporting"] is not None:
        assert "error" not in summary["reporting"], summary["reporting"]
        assert summary["reporting"]["by_type"] == placements["by_type"]
        assert summary["dashboard"] == system["urls"]["reporting"] + "/reporting/dashboard"
        # As recorded when the last approval was: Gate 1 done, nobody placed yet — and a link to that moment.
        assert summary["as_of"]["approved"] == 27 and summary["as_of"]["placed"] == 0, summary["as_of"]
        assert "/reporting/dashboard?as_of=" in printed
    assert summary["parked"] == dict.fromkeys(system["urls"], 0)  # every consumer applied every event
    for words in ("四关", "补短型", "扬长型", "对接型", "优秀", "Audit chain", "Commands sent", "Parked messages 搁置消息: none"):
        assert words in printed


def test_every_cadres_final_grade_is_on_their_record_in_selection(system: dict[str, Any]) -> None:
    if not system["runs"]:
        play(system)
    headers = {"Authorization": f"Bearer {data.READER}"}
    finals = requests.get(system["urls"]["assessment"] + "/assessment/assessments", headers=headers,
                          params={"year": data.YEAR, "limit": 1000}, timeout=10).json()["items"]
    by_cadre = {a["cadre_id"]: a["final_grade"] for a in finals if a["cadre_id"].startswith(data.PREFIX)}
    assert len(by_cadre) == 27
    for cadre in data.CADRES:
        record = requests.get(system["urls"]["selection"] + f"/selection/cadres/{cadre.cadre_id}", headers=headers,
                              timeout=10).json()
        assert [(a["year"], a["grade"]) for a in record["assessments"]] == [(data.YEAR, cadre.grade)]
        assert by_cadre[cadre.cadre_id] == cadre.grade


def test_a_second_run_changes_nothing(system: dict[str, Any]) -> None:
    if not system["runs"]:
        play(system)
    first = system["runs"][0]
    before = event_counts()

    again, printed = play(system)

    assert event_counts() == before
    assert again["commands"]["sent"] == first["commands"]["sent"]
    assert again["commands"]["replayed"] == again["commands"]["sent"]
    assert again["commands"]["new"] == again["commands"]["unchanged"] == again["commands"]["ballots"] == 0
    for key in ("cadres", "nominations", "placements", "assessments", "teams", "as_of"):
        assert again[key] == first[key], key
    assert "Nothing new" in printed


def test_a_demo_recorded_by_another_version_of_the_scenario_is_refused_saying_what_to_do(system: dict[str, Any]) -> None:
    from deploy.demo_client import Client, DemoError

    if not system["runs"]:
        play(system)
    before = event_counts()
    c = data.CADRES[0]
    changed = {"cadre_id": c.cadre_id, "name": c.name, "rank": c.rank, "home_unit": c.home_unit,
               "birth_date": c.birth_date.isoformat(), "grassroots_experience": True, "fit_for_duty": True}
    with pytest.raises(DemoError, match="earlier version of the scenario") as refused:
        Client(system["urls"], 10).command("selection", "/selection/cadres", changed, data.HR, f"{c.key}:register")
    assert "idempotency_key" in str(refused.value) and "empty database" in str(refused.value)
    assert event_counts() == before


def test_the_run_command_plays_the_demo_once_the_services_are_up() -> None:
    makefile = (Path(ROOT) / "Makefile").read_text()
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "-m deploy.supervise" in run and "--then deploy.demo" in run


def test_erasing_a_cadre_leaves_no_plaintext_anywhere_and_every_chain_still_verifies(system: dict[str, Any]) -> None:
    """Runs last: it erases the first cadre of the scenario across every service."""
    import time

    from psycopg_pool import ConnectionPool

    from services.backbone.audit import verify_chain
    from services.backbone.store import EventStore

    if not system["runs"]:
        play(system)
    cadre = data.CADRES[0]
    assert plaintext_hits(cadre.name), "the name should be readable before erasure (reporting's dossier)"

    erased = requests.post(system["urls"]["selection"] + f"/selection/cadres/{cadre.cadre_id}/erasure",
                           json={"reason": "本人依法申请删除个人信息"}, timeout=10,
                           headers={"Authorization": f"Bearer {data.OD}", "Idempotency-Key": f"erase:{cadre.cadre_id}"})
    assert erased.status_code == 200, erased.text

    deadline = time.monotonic() + 90
    while (hits := plaintext_hits(cadre.name)) or not keys_destroyed(cadre.placement_id):
        assert time.monotonic() < deadline, f"plaintext still in {hits} / keys of {cadre.placement_id} still there"
        time.sleep(1)
    dossier = requests.get(system["urls"]["reporting"] + f"/reporting/cadres/{cadre.cadre_id}/dossier", timeout=10,
                           headers={"Authorization": f"Bearer {data.READER}"})
    assert dossier.status_code == 200 and cadre.name not in dossier.text
    exported = subprocess.run([sys.executable, "-m", "services.auditor", "--db", DB, "export", "--format", "csv"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert exported.returncode == 0 and cadre.name not in exported.stdout
    with ConnectionPool(DB, min_size=1, max_size=2) as pool:
        for schema in ("selection", "posting", "assessment"):
            assert verify_chain(EventStore(pool, schema)).ok, schema


def plaintext_hits(text: str) -> list[str]:
    """The tables (of every service schema) in which `text` appears anywhere in a row."""
    hits = []
    with psycopg.connect(DB) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = ANY(%s)"
                              " AND table_type = 'BASE TABLE'", (list(SCHEMAS),)).fetchall()
        for schema, table in tables:
            found = conn.execute(f'SELECT 1 FROM "{schema}"."{table}" t WHERE t::text LIKE %s LIMIT 1',
                                 (f"%{text}%",)).fetchone()
            if found:
                hits.append(f"{schema}.{table}")
    return hits


def keys_destroyed(placement_id: str) -> bool:
    with psycopg.connect(DB) as conn:
        return conn.execute("SELECT count(*) FROM posting.person_keys WHERE subject = %s",
                            (placement_id,)).fetchone()[0] == 0  # type: ignore[index]
