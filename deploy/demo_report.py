"""What came of the demo: the summary read back through the services' GET endpoints (and reporting's
read models when reporting runs), each service's audit chain recomputed read-only, and the tables a
person reads.
"""
from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from deploy import demo_data as data
from deploy.demo_client import Client, DemoError, Played, console


def ours(items: Iterable[dict[str, Any]], key: str, ids: set[str]) -> list[dict[str, Any]]:
    return [item for item in items if item.get(key) in ids]


def collect(api: Client, played: Played, db: str | None, heads: Path | None) -> dict[str, Any]:
    """The summary, read back through the services' GET endpoints (and reporting's, when it runs)."""
    cadre_ids = {c.cadre_id for c in data.CADRES}
    finals = {f.cadre.cadre_id: f.final for f in played.finalised}

    def grades_back() -> list[dict[str, Any]] | None:
        cadres = ours(api.get("selection", "/selection/cadres", limit=1000)["items"], "cadre_id", cadre_ids)
        back = [c for c in cadres if any(a.get("year") == data.YEAR and a.get("grade") == finals.get(c["cadre_id"])
                                         for a in c.get("assessments", []))]
        return cadres if len(back) == len(cadre_ids) else None

    with console.status("waiting for the final grades to reach selection (the basis for later appointment)…"):
        try:
            cadres = api.wait_for("every final grade to reach selection", grades_back)
        except DemoError:
            cadres = ours(api.get("selection", "/selection/cadres", limit=1000)["items"], "cadre_id", cadre_ids)

    def outcomes_known() -> bool:
        return all((r := api.probe("assessment", f"/assessment/placements/{c.placement_id}")) is not None
                   and r.status_code == 200 and r.json().get("status") == "completed" for c in data.CADRES)

    with console.status("waiting for assessment to learn every end-of-term outcome…"):
        try:
            api.wait_for("assessment to learn every outcome", outcomes_known, timeout=30)
        except DemoError:
            pass  # the summary is read all the same; the placements themselves are posting's
    nominations = ours(api.get("selection", "/selection/nominations", limit=1000)["items"], "cadre_id", cadre_ids)
    placements = ours(api.get("posting", "/posting/placements", limit=1000)["items"], "cadre_id", cadre_ids)
    assessments = ours(api.get("assessment", "/assessment/assessments", year=data.YEAR, limit=1000)["items"],
                       "cadre_id", cadre_ids)
    teams = api.get("assessment", f"/assessment/campaigns/{data.CAMPAIGN_ID}")
    # the units' names as the county registered them in selection (the summary shows the system's, not the script's)
    unit_names = {u["unit_id"]: u["name"] for u in api.get("selection", "/selection/units", limit=1000)["items"]}

    by_type = Counter(p["placement_type"] for p in placements)
    finalised = [a for a in assessments if a["status"] == "finalised"]
    grades_by_host: dict[str, Counter[str]] = {}
    for a in finalised:
        grades_by_host.setdefault(a["host_unit"], Counter())[a["final_grade"]] += 1
    back = sum(1 for c in cadres if any(a.get("year") == data.YEAR and a.get("grade") == finals.get(c["cadre_id"])
                                        for a in c.get("assessments", [])))
    summary: dict[str, Any] = {
        "cadres": len(cadres),
        "reserve_pool": sum(1 for c in cadres if c.get("reserve_cadre")),
        "nominations": {"total": len(nominations), "by_status": dict(Counter(n["status"] for n in nominations))},
        "plan": {k: data.PLAN[k] for k in data.TYPE_LABELS},
        "placements": {
            "total": len(placements),
            "by_type": {t: by_type.get(t, 0) for t in data.TYPE_LABELS},
            "by_status": dict(Counter(p["status"] for p in placements)),
            "completed_by_type": {t: sum(1 for p in placements if p["placement_type"] == t and p["status"] == "completed")
                                  for t in data.TYPE_LABELS},
            "signed": sum(1 for p in placements if len(p.get("signatures") or []) == 3 and not p.get("missing_signatures")),
            "started": sum(1 for p in placements if p.get("started_on")),
            "active": sum(1 for p in placements if p["status"] in ("active", "extended")),
            "completed": sum(1 for p in placements if p["status"] == "completed"),
            "extended": sum(1 for p in placements if p["term_months"] > data.TERM_MONTHS),
            "check_ins": sum(p["check_ins"] for p in placements),
            "attendance_reports": sum(p["attendance_reports"] for p in placements),
            "discipline_incidents": sum(p["discipline_incidents"] for p in placements),
            "trainings": sum(p["trainings"] for p in placements),
            "training_hours": sum(p["training_hours"] for p in placements),
            "rewards": sum(p["rewards"] for p in placements),
            "penalties": sum(p["penalties"] for p in placements),
            "outcomes": {o: sum(1 for p in placements if p.get("outcome") == o) for o in data.OUTCOME_LABELS},
        },
        "assessments": {
            "total": len(assessments), "finalised": len(finalised),
            "grades": {g: sum(1 for a in finalised if a["final_grade"] == g) for g in data.GRADE_LABELS},
            "by_host_unit": {unit: dict(counts) for unit, counts in sorted(grades_by_host.items())},
            "held_back_by_cap": sum(1 for f in played.finalised if f.proposed == "excellent" and f.final != "excellent"),
            "warnings": sum(len(f.warnings) for f in played.finalised),
            "grades_in_selection": back,
        },
        "teams": {"campaign_id": teams["campaign_id"], "units": len(teams["units"]),
                  "survey": bool(teams.get("survey_entry_id")),
                  "grades": {u: v["team_grade"] for u, v in teams["units"].items()}},
        "unit_names": unit_names,
        "commands": api.counts.as_dict(),
        "phases": played.phases,
        "seconds": played.seconds,
    }
    summary["reporting"] = reporting_view(api, summary)
    summary["as_of"] = as_of_example(api) if summary["reporting"] and "error" not in summary["reporting"] else None
    summary["audit"] = audit(db, heads)
    summary["parked"] = parked(api)
    dashboard = api.probe("reporting", "/reporting/dashboard")
    summary["dashboard"] = (api.urls["reporting"] + "/reporting/dashboard"
                            if dashboard is not None and dashboard.status_code == 200 else None)
    return summary


def parked(api: Client) -> dict[str, int | None]:
    """Per running service, how many events its consumer parked (could not apply) and nobody resolved yet."""
    found: dict[str, int | None] = {}
    for service in api.urls:
        answer = api.probe(service, f"/{service}/parked", limit=1)
        found[service] = answer.json()["total"] if answer is not None and answer.status_code == 200 else None
    return found


def reporting_view(api: Client, summary: dict[str, Any]) -> dict[str, Any] | None:
    """Reporting's read models, once they have caught up with the scenario; None when reporting is not running."""
    health = api.probe("reporting", "/reporting/health")
    if health is None or health.status_code != 200:
        return None
    expected = summary["placements"]["total"], summary["assessments"]["finalised"], summary["placements"]["completed"]

    def read() -> dict[str, Any] | None:
        gates = api.probe("reporting", "/reporting/compliance", year=data.YEAR)
        types = api.probe("reporting", "/reporting/placements/summary", by="placement_type", year=data.YEAR)
        grades = api.probe("reporting", "/reporting/assessments/grades", year=data.YEAR, kind="annual")
        if not all(r is not None and r.status_code == 200 for r in (gates, types, grades)):
            return {"error": "; ".join(f"{r.status_code} {r.text[:200]}" for r in (gates, types, grades)
                                       if r is not None and r.status_code != 200) or "reporting did not answer"}
        view = {"gates": gates.json(),  # type: ignore[union-attr]
                "by_type": {row["placement_type"]: row.get("placements", 0) for row in types.json()["items"]},  # type: ignore[union-attr]
                "grades": {g: sum(row.get(g, 0) for row in grades.json()["items"]) for g in data.GRADE_LABELS}}  # type: ignore[union-attr]
        outcomes = sum(int(view["gates"].get("safeguards", {}).get(o) or 0) for o in data.OUTCOME_LABELS)
        caught_up = (sum(view["by_type"].values()) >= expected[0] and sum(view["grades"].values()) >= expected[1]
                     and outcomes >= expected[2])
        return view if caught_up else None

    with console.status("waiting for reporting's read models to catch up…"):
        view: dict[str, Any] | None
        try:
            view = api.wait_for("reporting to catch up", read, timeout=30)
        except DemoError:
            view = read() or {"error": "reporting had not caught up with the scenario after 30s"}
    return view


def as_of_example(api: Client) -> dict[str, Any] | None:
    """The record as it stood once Gate 1 was done (the last approval recorded), read with `as_of`.

    `as_of` is a moment of recording, and the demo records its two-year story in a few minutes: the moment
    is found in the audit timeline, so a second run (which records nothing) shows the same one.
    """
    last = api.probe("reporting", "/reporting/timeline", type="selection.NominationApproved", limit=1)
    if last is None or last.status_code != 200 or not last.json()["items"]:
        return None
    moment = last.json()["items"][0]["recorded_at"]
    gates = api.probe("reporting", "/reporting/compliance", year=data.YEAR, as_of=moment)
    if gates is None or gates.status_code != 200:
        return None
    answer = gates.json()
    placed = sum(int(row.get("actual") or 0) for row in answer.get("method", {}).get("by_type", []))
    return {"moment": moment, "approved": answer.get("selection", {}).get("approved"), "placed": placed}


def audit(db: str | None, heads: Path | None, timeout: float = 30) -> dict[str, Any]:
    """Each service's audit chain recomputed (read-only), once its sequencer has sealed what the demo caused."""
    try:
        with warnings.catch_warnings():  # the auditor's modules import nameko, which warns about eventlet
            warnings.simplefilter("ignore")
            import psycopg
            from psycopg import sql

            from services.auditor import logs
            from services.backbone.audit import heads_path, read_heads, verify_chain
            from services.backbone.config import database_url
            from services.backbone.config import setting as configured
            from services.backbone.providers import DEFAULT_HEAD_DIR

        conninfo = db or database_url()
        head_dir = heads or Path(str(configured(None, "CHAIN_HEAD_DIR", str(DEFAULT_HEAD_DIR))))

        def counts() -> dict[str, tuple[int, int]]:
            with psycopg.connect(conninfo) as conn:
                schemas = [r[0] for r in conn.execute(
                    "SELECT table_schema FROM information_schema.tables WHERE table_name = 'events'")]
                found = {}
                for name in (s for s in logs.SERVICES if s in schemas):
                    s = sql.Identifier(name)
                    events = conn.execute(sql.SQL("SELECT count(*) FROM {}.events").format(s)).fetchone()[0]  # type: ignore[index]
                    seals = conn.execute(sql.SQL("SELECT count(*) FROM {}.audit_chain").format(s)).fetchone()[0]  # type: ignore[index]
                    found[name] = (int(events), int(seals))
                return found

        # Wait until every sequencer has sealed everything, or until nothing moves for a while (no sequencer).
        deadline, last, still_since = time.monotonic() + timeout, None, time.monotonic()
        with console.status("waiting for the audit chains to seal the scenario's events…"):
            while True:
                now = counts()
                if all(events == seals for events, seals in now.values()) or time.monotonic() > deadline:
                    break
                if now != last:
                    last, still_since = now, time.monotonic()
                elif time.monotonic() - still_since > 5:
                    break
                time.sleep(0.5)
        result = {}
        with logs.stores(conninfo) as stores:
            for name, store in stores.items():
                verified = verify_chain(store, read_heads(heads_path(head_dir, conninfo, name)))
                result[name] = {"events": now.get(name, (0, 0))[0], "checked": verified.checked, "ok": verified.ok,
                                "finding": verified.kind, "detail": verified.detail, "audit_no": verified.audit_no,
                                "heads": str(heads_path(head_dir, conninfo, name)),
                                "recreated": sum(e.heads for e in verified.earlier if e.departure)}
        return result
    except Exception as exc:  # noqa: BLE001  (the summary says the chain could not be verified, and why)
        return {"error": f"{type(exc).__name__}: {exc}"}


# ---------------------------------------------------------------- the summary a person reads


def show(summary: dict[str, Any]) -> None:
    p, a, n = summary["placements"], summary["assessments"], summary["nominations"]
    r = summary.get("reporting") or {}
    gates = r.get("gates") or {}
    total = summary["cadres"]
    names = summary.get("unit_names") or {}

    def rep(*path: str) -> str:
        value: Any = gates
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        return "" if value is None else str(value)

    four = Table(title="The four gates 四关 (demo county, 2025–2026)", title_justify="left")
    four.add_column("gate")
    four.add_column("what")
    four.add_column("count", justify="right")
    if gates:
        four.add_column("reporting", justify="right", style="dim")
    by_type = " / ".join(str(p["by_type"][t]) for t in data.TYPE_LABELS)
    plan = " / ".join(str(summary["plan"][t]) for t in data.TYPE_LABELS)
    main_type = all(p["by_type"]["gap_filling"] > p["by_type"][t] for t in ("strength", "docking"))
    reported_types = " / ".join(str(row.get("actual", "")) for row in (gates.get("method") or {}).get("by_type", []))
    rows = [
        ("选拔关 selection", "cadres registered / in the reserve pool", f"{total} / {summary['reserve_pool']}", ""),
        ("", "nominations approved by the party committee", f"{n['by_status'].get('approved', 0)} of {n['total']}",
         rep("selection", "approved")),
        ("方式关 method", f"placements by type 补短 / 扬长 / 对接 (plan {plan})", f"{p['total']} = {by_type}",
         reported_types),
        ("", "gap-filling the main type, as planned", "yes" if main_type else "no",
         {"True": "yes", "False": "no"}.get(rep("method", "gap_filling", "compliant"), "")),
        ("责任关 responsibility", "agreements signed by all three parties", f"{p['signed']} of {p['total']}",
         f"{rep('responsibility', 'unsigned_agreements')} unsigned" if gates else ""),
        ("", "placements started / running now / completed", f"{p['started']} / {p['active']} / {p['completed']}",
         f"running {rep('responsibility', 'running')}" if gates else ""),
        ("", "check-ins · leave reports · discipline incidents",
         f"{p['check_ins']} · {p['attendance_reports']} · {p['discipline_incidents']}", ""),
        ("", f"annual assessments {data.YEAR} finalised (with warnings)", f"{a['finalised']} of {a['total']} ({a['warnings']})",
         f"{rep('responsibility', 'assessments_finalised')} ({rep('responsibility', 'assessments_with_warnings')})"
         if gates else ""),
        ("", "final grades recorded back in selection", f"{a['grades_in_selection']} of {total}", ""),
        ("保障关 safeguards", "trainings (hours)", f"{p['trainings']} ({p['training_hours']} h)",
         f"{rep('safeguards', 'trainings')} ({rep('safeguards', 'training_hours')} h)" if gates else ""),
        ("", "rewards / penalties / extensions", f"{p['rewards']} / {p['penalties']} / {p['extended']}",
         f"{rep('safeguards', 'rewards')} / {rep('safeguards', 'penalties')} / –" if gates else ""),
        ("", "outcomes 回原单位 / 留任 / 提拔任用", " / ".join(str(p["outcomes"][o]) for o in data.OUTCOME_LABELS),
         " / ".join(rep("safeguards", o) for o in data.OUTCOME_LABELS) if gates else ""),
    ]
    for row in rows:
        four.add_row(*(row if gates else row[:3]))
    console.print(four)

    types = Table(title="Placements by type 挂职类型", title_justify="left")
    for column in ("type", "label", "planned", "placed", "completed"):
        types.add_column(column, justify="right" if column in ("planned", "placed", "completed") else "left")
    if r.get("by_type"):
        types.add_column("reporting", justify="right", style="dim")
    for t, label in data.TYPE_LABELS.items():
        cells = [t, label, str(summary["plan"][t]), str(p["by_type"][t]), str(p["completed_by_type"][t])]
        if r.get("by_type"):
            cells.append(str(r["by_type"].get(t, 0)))
        types.add_row(*cells)
    console.print(types)

    grades = Table(title=f"Grade distribution 考核等次 ({data.YEAR} annual, excellent capped at 20% per host unit)",
                   title_justify="left")
    grades.add_column("host unit")
    for label in data.GRADE_LABELS.values():
        grades.add_column(label, justify="right")
    grades.add_column("excellent share", justify="right")
    for unit, counts in a["by_host_unit"].items():
        size = sum(counts.values())
        grades.add_row(f"{names.get(unit, unit)} {unit}", *(str(counts.get(g, 0)) for g in data.GRADE_LABELS),
                       f"{counts.get('excellent', 0) / size:.0%}")
    grades.add_row("[b]all[/]", *(f"[b]{a['grades'][g]}[/]" for g in data.GRADE_LABELS),
                   f"{a['grades']['excellent'] / max(1, a['finalised']):.0%}")
    if r.get("grades"):
        grades.add_row("[dim]reporting[/]", *(f"[dim]{r['grades'].get(g, 0)}[/]" for g in data.GRADE_LABELS), "")
    console.print(grades)
    console.print(f"  {a['held_back_by_cap']} cadre(s) proposed 优秀 held at 称职 by the cap; "
                  f"{a['warnings']} warning(s) raised on low democratic approval.")

    teams = Table(title=f"Leadership teams 领导班子综合考核 ({data.CAMPAIGN_YEAR}, third-party survey: "
                        f"{'uploaded' if summary['teams']['survey'] else 'missing'})", title_justify="left")
    teams.add_column("unit")
    teams.add_column("team grade")
    for unit, grade in summary["teams"]["grades"].items():
        teams.add_row(f"{names.get(unit, unit)} {unit}",
                      f"{data.TEAM_GRADE_LABELS.get(grade or '', '—')} {grade or 'not finalised'}")
    console.print(teams)

    chain = Table(title="Audit chain 审计链 (recomputed, read-only)", title_justify="left")
    for column in ("service", "events", "sealed & checked", "result"):
        chain.add_column(column, justify="right" if column in ("events", "sealed & checked") else "left")
    if "error" in summary["audit"]:
        chain.add_row("—", "", "", f"[red]not verified: {summary['audit']['error']}[/]")
    for service, v in summary["audit"].items():
        if service == "error":
            continue
        if not v["ok"]:
            verdict = f"[red]{(v['finding'] or 'failed').upper()} at audit no {v.get('audit_no')}[/]: {v['detail']}"
            if v["finding"] in ("truncated", "changed"):
                verdict += f" [dim](compared with the heads exported to {v['heads']}: heads of another database?)[/]"
        elif v["checked"] == v["events"]:
            verdict = "[green]verified[/]" if v["events"] else "[dim]no events of its own[/]"
            if v.get("recreated"):
                verdict += (f" [yellow]— NOTICE: {v['recreated']} head(s) an earlier database of this name exported"
                            " were not compared (the database was dropped and created again): run"
                            " `python -m services.auditor verify` and see docs/runbook.md[/]")
        else:
            verdict = f"[yellow]verified what is sealed; {v['events'] - v['checked']} event(s) not sealed[/]"
        chain.add_row(service, str(v["events"]), str(v["checked"]), verdict)
    console.print(chain)

    waiting = {service: n for service, n in summary["parked"].items() if n}
    unknown = sorted(service for service, n in summary["parked"].items() if n is None)
    if waiting:
        console.print("[yellow]Parked messages 搁置消息: " + ", ".join(f"{s} {n}" for s, n in waiting.items())
                      + " — events a consumer could not apply: GET /<service>/parked (docs/runbook.md)[/]")
    else:
        console.print("Parked messages 搁置消息: [green]none[/] — every consumer applied every event it received"
                      + (f" [dim](not asked: {', '.join(unknown)})[/]" if unknown else ""))
    c = summary["commands"]
    console.print(f"Commands sent: {c['sent']} — [green]{c['new']} new[/] ({c['events']} events), "
                  f"{c['replayed']} replayed, {c['unchanged']} unchanged; {c['ballots']} anonymous ballots cast. "
                  f"Played in {summary['seconds']:.1f}s.")
    if c["sent"] and c["new"] == 0:
        console.print("[green]Nothing new: the scenario was already recorded (every Idempotency-Key was replayed).[/]")
    if r.get("error"):
        console.print(f"[yellow]reporting: {r['error']}[/]")
    if summary["dashboard"]:
        console.print(f"Dashboard: [link={summary['dashboard']}]{summary['dashboard']}[/link]")
        then = summary.get("as_of")
        if then:
            moment = datetime.fromisoformat(then["moment"]).astimezone(UTC)
            link = f"{summary['dashboard']}?as_of={moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"
            console.print(f"As of {moment:%Y-%m-%d %H:%M:%S} UTC 截至, when the last approval was recorded: "
                          f"{then['approved']} approved, {then['placed']} placed. The record as it stood then: "
                          f"[link={link}]{link}[/link]")
    else:
        console.print("Dashboard: reporting does not serve one here.")
