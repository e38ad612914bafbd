"""Play the demo scenario (../shared/domain/domain.md, "Scenario data") through the public HTTP API, as
another HR system would, then print a summary a person can read.

    python -m deploy.demo                                   # against `python -m deploy.supervise`
    python -m deploy.demo --base-url http://gateway:8080    # every service behind one address
    python -m deploy.demo --posting-url http://127.0.0.1:9002 --json summary.json

One county over two years: its units registered by name (清水镇 beside qingshui-township); 27 cadres
registered, put in the reserve pool, recommended by their sending units, inspected, approved by the
party committee; placed (posting learns of the approval through events: the demo polls until it has), a
tripartite agreement drafted and signed, started, checked in on, trained; an annual assessment with
self-evaluation, democratic evaluation (paper tallies, or one-time ballot tokens), performance scores
and finalisation under the 20% excellent cap; rewards, penalties, extensions and the end-of-term
outcomes; and one leadership-team comprehensive assessment of five units with a third-party survey.

Every command carries a fixed Idempotency-Key derived from the scenario, so a second run appends
nothing: every command answers `replayed`. The summary ends with each service's audit chain verified
(read-only, as `python -m services.auditor verify` does) and the dashboard's address.
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from deploy import demo_data as data
from deploy.demo_client import Client, DemoError, Finalised, Played, console
from deploy.demo_data import Cadre
from deploy.demo_report import collect, show
from deploy.supervise import SERVICES as SERVICE_PORTS  # the supervisor's ports are the demo's defaults

# ---------------------------------------------------------------- the scenario, step by step


def setup(api: Client) -> None:
    """The local settings: the county's units by name, eligibility policy, assessment policy, the year's plan."""
    for unit, name in data.UNIT_NAMES.items():
        api.command("selection", "/selection/units", {"unit_id": unit, "name": name}, data.HR,
                    f"{data.PREFIX}:unit:{unit}")
    api.command("selection", "/selection/policies", data.POLICY, data.OD, f"{data.PREFIX}:policy:selection")
    api.command("assessment", "/assessment/policies", data.ASSESSMENT_POLICY, data.OD, f"{data.PREFIX}:policy:assessment")
    api.command("posting", "/posting/plans", {**data.PLAN, "reason": "县委组织部2025年度干部实践锻炼计划"}, data.OD,
                f"{data.PREFIX}:plan:{data.YEAR}")


def select(api: Client, c: Cadre) -> None:
    """Gate 1 (选拔关): registered by HR, reserve pool, recommended, inspected, approved."""
    api.command("selection", "/selection/cadres", {
        "cadre_id": c.cadre_id, "name": c.name, "rank": c.rank, "home_unit": c.home_unit,
        "birth_date": c.birth_date.isoformat(), "grassroots_experience": False, "fit_for_duty": True,
        "reserve_cadre": False}, data.HR, f"{c.key}:register")
    if c.reserve:
        api.command("selection", f"/selection/cadres/{c.cadre_id}/reserve-pool",
                    {"reason": "经民主推荐和组织考察，列入后备干部队伍"}, data.OD, f"{c.key}:reserve-pool")
    api.command("selection", "/selection/nominations", {
        "nomination_id": c.nomination_id, "cadre_id": c.cadre_id, "placement_type": c.placement_type,
        "host_unit": c.host_unit, "host_post": c.host_post, "post_level": c.post_level, "posting_mode": c.posting_mode,
        "reason": data.RECOMMENDATION_REASONS[c.placement_type],
        "recommended_on": data.RECOMMENDED[c.placement_type].isoformat()}, data.SENDING_TOKENS[c.home_unit], f"{c.key}:recommend")
    api.command("selection", f"/selection/nominations/{c.nomination_id}/inspection",
                {"findings": data.INSPECTION_FINDINGS, "passed": True}, data.OD, f"{c.key}:inspect")
    ref, decided_on = data.DECISIONS[c.placement_type]
    api.command("selection", f"/selection/nominations/{c.nomination_id}/decision",
                {"approved": True, "decision_ref": ref, "decision_date": decided_on.isoformat(),
                 "reason": "县委常委会研究同意"}, data.PC, f"{c.key}:decide")


def place(api: Client, c: Cadre) -> None:
    """Gates 2–4 (方式关, 责任关, 保障关): placed, agreement signed by all three, started, supervised, trained."""
    api.wait_for(f"posting to learn that nomination {c.nomination_id} was approved",
                 lambda: (r := api.probe("posting", f"/posting/nominations/{c.nomination_id}")) is not None
                 and r.status_code == 200)
    host, sending, pid = data.HOST_TOKENS[c.host_unit], data.SENDING_TOKENS[c.home_unit], c.placement_id
    api.command("posting", "/posting/placements", {
        "placement_id": pid, "nomination_id": c.nomination_id, "term_months": data.TERM_MONTHS,
        "start_date": c.start.isoformat(), "reason": "按县委决定安排挂职"}, data.OD, f"{c.key}:place")
    api.command("posting", f"/posting/placements/{pid}/agreement", data.AGREEMENT[c.placement_type], data.OD,
                f"{c.key}:agreement")
    for party, token in (("od", data.OD), ("sending", sending), ("host", host)):
        api.command("posting", f"/posting/placements/{pid}/agreement/signatures", {"version": 1}, token,
                    f"{c.key}:sign:{party}")
    api.command("posting", f"/posting/placements/{pid}/start", {"started_on": c.start.isoformat()}, host, f"{c.key}:start")
    for i, (months, thinking, work) in enumerate(data.CHECK_INS):
        api.command("posting", f"/posting/placements/{pid}/check-ins", {
            "checked_on": data.add_months(c.start, months).isoformat(), "thinking": thinking, "work": work,
            "met_by": data.MET_BY[c.placement_type]}, host, f"{c.key}:check-in:{i}")
    course, provider, hours = data.TRAINING[c.placement_type]
    api.command("posting", f"/posting/placements/{pid}/trainings", {
        "course": course, "provider": provider, "hours": hours,
        "completed_on": data.add_months(c.start, 3).isoformat()}, data.OD, f"{c.key}:training")
    if c.leave:
        leave_from = data.add_months(c.start, 5)
        api.command("posting", f"/posting/placements/{pid}/attendance", {
            "kind": "leave", "from_date": leave_from.isoformat(),
            "to_date": (leave_from + timedelta(days=2)).isoformat(),
            "notes": "病假三天，已按规定请假"}, host, f"{c.key}:leave")
    if c.discipline:
        api.command("posting", f"/posting/placements/{pid}/discipline-incidents", {
            "occurred_on": "2025-06-16", "description": "未经请假离岗两天"}, host, f"{c.key}:discipline")
        api.command("posting", f"/posting/placements/{pid}/penalties", {
            "description": "诫勉谈话", "basis": "2025年6月未经请假离岗两天，违反挂职协议的岗位要求",
            "decided_on": "2025-06-25"}, data.OD, f"{c.key}:penalty")


def open_assessment(api: Client, c: Cadre) -> None:
    """Gate 3: the host unit's annual assessment — self-evaluation, democratic evaluation, performance."""
    pid, host = c.placement_id, data.HOST_TOKENS[c.host_unit]
    api.wait_for(f"assessment to learn that placement {pid} started",
                 lambda: (r := api.probe("assessment", f"/assessment/placements/{pid}")) is not None
                 and r.status_code == 200 and r.json().get("status") in ("active", "completed"))
    api.command("assessment", "/assessment/assessments", {
        "placement_id": pid, "kind": "annual", "year": data.YEAR, "reason": f"{data.YEAR}年度下派干部考核"}, host,
        f"{c.key}:assessment")
    path = f"/assessment/placements/{pid}/assessments/{data.YEAR}"
    api.command("assessment", path + "/self-evaluation", {"text": data.SELF_EVALUATION[c.placement_type]}, host,
                f"{c.key}:self-evaluation")
    for group, counts in data.tallies(c).items():
        if c.online_ballots and group == "colleagues":
            vote_online(api, c, path, group, counts)
        else:
            api.command("assessment", path + "/tallies", {"rater_group": group, "counts": counts}, host,
                        f"{c.key}:tally:{group}")
    for dimension, score in data.scores(c).items():
        api.command("assessment", path + "/performance-scores", {
            "dimension": dimension, "score": score, "evidence": data.EVIDENCE[dimension]}, host, f"{c.key}:score:{dimension}")


def vote_online(api: Client, c: Cadre, path: str, group: str, counts: dict[str, int]) -> None:
    """One-time ballot tokens for a rater group, each spent anonymously on one ballot."""
    host = data.HOST_TOKENS[c.host_unit]
    grades = data.ballots(counts)
    issued = api.command("assessment", path + "/ballot-tokens", {"rater_group": group, "count": len(grades)}, host,
                         f"{c.key}:tokens:{group}")
    for token, grade in zip(issued.get("tokens", []), grades, strict=False):
        api.cast_ballot(token, grade)
    if issued.get("replayed"):  # the tokens were handed out by an earlier run: were they all spent?
        view = api.get("assessment", path, host)
        if group not in view["democratic"]["groups"]:  # a run stopped between issuing and voting: paper instead
            api.command("assessment", path + "/tallies", {"rater_group": group, "counts": counts,
                                                          "reason": "网络测评中断，改为纸质测评"}, host,
                        f"{c.key}:tally:{group}:paper")


def finalise(api: Client, c: Cadre) -> Finalised:
    """The host unit's final grade; the excellent cap (20% of the host unit's year) is respected."""
    host = data.HOST_TOKENS[c.host_unit]
    path = f"/assessment/placements/{c.placement_id}/assessments/{data.YEAR}"
    preview = api.get("assessment", path, host).get("preview") or {}
    reason = data.CAP_REASON if c.profile else data.FINAL_REASON
    result = api.command("assessment", path + "/finalisation", {"final_grade": c.grade, "reason": reason}, host,
                         f"{c.key}:finalise")
    warnings = tuple(e["type"] for e in result["events"] if e["type"] == "assessment.WarningRaised")
    return Finalised(c, preview.get("proposed_grade"), c.grade, warnings)


def close(api: Client, c: Cadre) -> None:
    """Gate 4 (保障关): rewards tied to the assessment, extensions, and the end-of-term outcome."""
    pid, host = c.placement_id, data.HOST_TOKENS[c.host_unit]
    if c.grade == "excellent":
        api.command("posting", f"/posting/placements/{pid}/rewards", {
            "description": "通报表扬，记入干部档案", "basis": f"{data.YEAR}年度下派干部考核优秀",
            "decided_on": data.REWARD_DATE.isoformat()}, data.OD, f"{c.key}:reward")
    if c.extension:
        api.command("posting", f"/posting/placements/{pid}/extension", {
            "extra_months": data.EXTENSION_MONTHS, "reason": "县重点项目二期建设需要，经三方协商延长挂职期限",
            "decided_on": data.EXTENSION_DATE.isoformat()}, data.OD,
            f"{c.key}:extension")
        api.command("posting", f"/posting/placements/{pid}/check-ins", {
            "checked_on": data.add_months(c.start, 15).isoformat(), "thinking": "延期后思想稳定，干劲足",
            "work": "推进项目二期征地和企业入驻", "met_by": data.MET_BY[c.placement_type]}, host, f"{c.key}:check-in:extended")
    api.command("posting", f"/posting/placements/{pid}/completion", {
        "outcome": c.outcome, "completed_on": c.ends_on.isoformat(),
        "reason": f"挂职期满，经考核{data.OUTCOME_LABELS[c.outcome]}"}, data.OD, f"{c.key}:completion")


def campaign(api: Client, advance: Callable[[], None]) -> None:
    """The leadership-team comprehensive assessment (领导班子综合考核) of five units, with a third-party survey."""
    cid, key = data.CAMPAIGN_ID, f"{data.PREFIX}:teams"
    base = f"/assessment/campaigns/{cid}"

    def run(path: str, body: dict[str, Any], token: str, suffix: str) -> None:
        api.command("assessment", path, body, token, f"{key}:{suffix}")
        advance()

    run("/assessment/campaigns", {"campaign_id": cid, "year": data.CAMPAIGN_YEAR, "units": [t.unit for t in data.TEAMS],
                                  "agency": data.AGENCY_UNIT, "settings": data.CAMPAIGN_SETTINGS,
                                  "reason": "市委组织部领导班子综合考核（科教系统五个单位）"}, data.OD2, "open")
    run(base + "/survey-report", {"csv": data.survey_csv()}, data.AGENCY, "survey")
    for t in data.TEAMS:
        run(base + "/democratic-scores", {"unit": t.unit, "focus_scores": dict(zip(data.FOCUSES, t.focus_scores, strict=True)),
                                          "respondents": t.respondents}, data.OD2, f"{t.unit}:democratic")
        run(base + "/team-scores", {"unit": t.unit, "source": "performance", "score": t.performance,
                                    "note": "年度目标绩效考核结果"}, data.OD2, f"{t.unit}:performance")
        for i, (focus, note) in enumerate(t.interviews):
            run(base + "/interview-notes", {"unit": t.unit, "focus": focus, "note": note}, data.OD2, f"{t.unit}:interview:{i}")
        run(base + "/team-scores", {"unit": t.unit, "source": "qualitative", "score": t.qualitative,
                                    "note": "考核组综合个别谈话和述职情况的定性评价"}, data.OD2, f"{t.unit}:qualitative")
        for i, (source, summary, deduction) in enumerate(t.findings):
            run(base + "/findings", {"unit": t.unit, "source": source, "summary": summary, "deduction": deduction},
                data.OD2, f"{t.unit}:finding:{i}")
        _, grade = data.team_grade(t)
        run(base + f"/units/{t.unit}/finalisation", {"team_grade": grade, "reason": "市委考核委员会审定"}, data.OD2,
            f"{t.unit}:finalise")
        for i, (use, note) in enumerate(t.uses):
            run(base + f"/units/{t.unit}/result-uses", {"use": use, "note": note}, data.OD2, f"{t.unit}:use:{i}")


def campaign_steps() -> int:
    return 2 + sum(4 + len(t.interviews) + len(t.findings) + len(t.uses) for t in data.TEAMS)


# ---------------------------------------------------------------- playing it


def progress_bar() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console)


def for_each(progress: Progress, title: str, cadres: Iterable[Cadre], step: Callable[[Client, Cadre], Any],
             api: Client, workers: int) -> list[Any]:
    """Run `step` for every cadre (each cadre's commands in order, cadres side by side), one bar per phase."""
    cadres = list(cadres)
    task = progress.add_task(title, total=len(cadres))
    results: list[Any] = []
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(step, api, c) for c in cadres]
        for future in as_completed(futures):
            results.append(future.result())  # the first refusal stops the demo, with its reason
            progress.advance(task)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # after a refusal, no cadre not yet begun is begun
    return results


def play(api: Client, workers: int = 6) -> Played:
    """The whole scenario, phase by phase; every phase waits for the one before."""
    phases: dict[str, float] = {}
    began = time.monotonic()
    with progress_bar() as progress:
        def phase(title: str, fn: Callable[[], Any]) -> Any:
            started = time.monotonic()
            result = fn()
            phases[title] = round(time.monotonic() - started, 2)
            return result

        def settings() -> None:
            task = progress.add_task("Local settings 政策与计划", total=1)
            setup(api)
            progress.advance(task)

        phase("settings", settings)
        phase("selection", lambda: for_each(progress, "Gate 1 选拔关 推荐·考察·审定", data.CADRES, select, api, workers))
        phase("posting", lambda: for_each(progress, "Gates 2–4 挂职·协议·督查", data.CADRES, place, api, workers))
        phase("assessment", lambda: for_each(progress, "Annual assessment 年度考核", data.CADRES, open_assessment, api,
                                             workers))
        finalised = phase("finalisation", lambda: for_each(progress, "Finalisation 定等次", data.CADRES, finalise, api,
                                                           workers))
        phase("outcomes", lambda: for_each(progress, "End of term 期满·奖惩·去向", data.CADRES, close, api, workers))

        def teams() -> None:
            task = progress.add_task("Leadership teams 班子综合考核", total=campaign_steps())
            campaign(api, lambda: progress.advance(task))

        phase("campaign", teams)
    return Played(sorted(finalised, key=lambda f: f.cadre.n), phases, round(time.monotonic() - began, 2))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--base-url", default=None, help="one address for every service (each under its own prefix)")
@click.option("--selection-url", default=None, help=f"default http://127.0.0.1:{SERVICE_PORTS['selection']}")
@click.option("--posting-url", default=None, help=f"default http://127.0.0.1:{SERVICE_PORTS['posting']}")
@click.option("--assessment-url", default=None, help=f"default http://127.0.0.1:{SERVICE_PORTS['assessment']}")
@click.option("--reporting-url", default=None, help=f"default http://127.0.0.1:{SERVICE_PORTS['reporting']}")
@click.option("--db", default=None, help="libpq string for the audit check (default: FOURGATES_DB or local)")
@click.option("--heads", type=click.Path(path_type=Path), default=None,
              help="folder of exported chain heads (default: FOURGATES_CHAIN_HEAD_DIR or var/chain-heads)")
@click.option("--workers", default=6, show_default=True, help="cadres played side by side")
@click.option("--wait", "wait_seconds", default=90.0, show_default=True, help="seconds to wait for events to arrive")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="also write the summary here")
def main(base_url: str | None, selection_url: str | None, posting_url: str | None, assessment_url: str | None,
         reporting_url: str | None, db: str | None, heads: Path | None, workers: int, wait_seconds: float,
         json_path: Path | None) -> None:
    """Play the Four Gates demo scenario through the HTTP API and print what came of it."""
    given = {"selection": selection_url, "posting": posting_url, "assessment": assessment_url, "reporting": reporting_url}
    urls = {name: given[name] or base_url or f"http://127.0.0.1:{port}" for name, port in SERVICE_PORTS.items()}
    api = Client(urls, wait_seconds)
    console.rule("Four Gates 四关 · demo: one county, 27 seconded cadres, 2025–2026")
    try:
        played = play(api, workers)
        summary = collect(api, played, db, heads)
    except DemoError as exc:
        console.print(f"[red]The demo stopped: {exc}[/]")
        sys.exit(1)
    except KeyboardInterrupt:
        console.print("[yellow]The demo was interrupted; run it again to carry on (nothing is done twice).[/]")
        sys.exit(130)
    show(summary)
    if json_path is not None:
        json_path.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str))


if __name__ == "__main__":
    main()
