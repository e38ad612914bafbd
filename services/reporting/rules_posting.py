"""How posting's events (方式关 / 责任关 / 保障关) change the placement register and the plans. Pure."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.reporting.model import Attribution, Rule, SourceEvent, Working
from services.reporting.rules_selection import on

PARTIES = ("organisation_department", "sending_unit", "host_unit")
PLANNED_FIELDS = ("nomination_id", "cadre_id", "cadre_rank", "placement_type", "home_unit", "host_unit", "host_post",
                  "post_level", "posting_mode", "term_months", "start_date")
COUNTERS = ("check_ins", "discipline_incidents", "trainings", "training_hours", "rewards", "penalties")
Change = Callable[[SourceEvent, dict[str, Any]], dict[str, Any]]


def attribution(row: dict[str, Any] | None) -> Attribution:
    if row is None:
        return Attribution()
    return Attribution(row.get("cadre_id"), tuple(u for u in (row.get("home_unit"), row.get("host_unit")) if u))


def planned(e: SourceEvent, w: Working) -> Attribution:
    values = {f: e.data.get(f) for f in PLANNED_FIELDS}
    values.update(year=int(str(e.data["start_date"])[:4]), status="planned", signatures=[], fully_signed=False,
                  overdue_open=False, **dict.fromkeys(COUNTERS, 0))
    return attribution(w.put("placements", (e.data["placement_id"],), values, e))


def placement(change: Change) -> Callable[[SourceEvent, Working], Attribution]:
    """A rule that changes an existing placement by `change(event, current row)`; unknown placements are left be."""
    def apply(e: SourceEvent, w: Working) -> Attribution:
        key = (e.data["placement_id"],)
        row = w.get("placements", key)
        if row is None:
            return Attribution()
        values = change(e, row)
        return attribution(w.put("placements", key, values, e) if values else row)
    return apply


def agreement(e: SourceEvent, row: dict[str, Any]) -> dict[str, Any]:
    status = "planned" if row["status"] == "agreement_signed" else row["status"]
    return {"agreement_version": e.data["version"], "signatures": [], "fully_signed": False, "status": status}


def signed(e: SourceEvent, row: dict[str, Any]) -> dict[str, Any]:
    signatures = sorted(set(row.get("signatures") or []) | {e.data["party"]})
    full = row.get("agreement_version") is not None and all(p in signatures for p in PARTIES)
    status = "agreement_signed" if row["status"] == "planned" and full else row["status"]
    return {"signatures": signatures, "fully_signed": full, "status": status}


def started(e: SourceEvent, row: dict[str, Any]) -> dict[str, Any]:
    return {"status": "active", "started_on": e.data["started_on"], "ends_on": e.data["ends_on"],
            "year": int(str(e.data["started_on"])[:4])}


def checked_in(e: SourceEvent, row: dict[str, Any]) -> dict[str, Any]:
    last = max(d for d in (str(row.get("last_check_in_on") or ""), str(e.data["checked_on"])))
    return {"check_ins": row["check_ins"] + 1, "last_check_in_on": last}


def count(column: str, hours: bool = False) -> Change:
    def change(e: SourceEvent, row: dict[str, Any]) -> dict[str, Any]:
        values = {column: row[column] + 1}
        if hours:
            values["training_hours"] = row["training_hours"] + int(e.data.get("hours") or 0)
        return values
    return change


def plan(e: SourceEvent, w: Working) -> Attribution:
    key = (int(e.data["year"]),)
    previous = w.get("plans", key)
    values = {t: int(e.data[t]) for t in ("gap_filling", "strength", "docking")}
    w.put("plans", key, {**values, "revision": previous["revision"] + 1 if previous else 1}, e)
    return Attribution()


def nomination_recorded(e: SourceEvent, w: Working) -> Attribution:
    return Attribution(e.data.get("cadre_id"), tuple(u for u in (e.data.get("home_unit"), e.data.get("host_unit")) if u))


PLACEMENT = on("placements", "placement_id")
RULES: dict[str, Rule] = {
    "posting.NominationRecorded": Rule(lambda e: [], nomination_recorded),
    "posting.NominationPlaced": Rule(PLACEMENT, lambda e, w: attribution(w.get("placements", (e.data["placement_id"],)))),
    "posting.PlacementPlanned": Rule(PLACEMENT, planned),
    "posting.AgreementDrafted": Rule(PLACEMENT, placement(agreement)),
    "posting.AgreementAmended": Rule(PLACEMENT, placement(agreement)),
    "posting.AgreementSigned": Rule(PLACEMENT, placement(signed)),
    "posting.PlacementStarted": Rule(PLACEMENT, placement(started)),
    "posting.PlacementExtended": Rule(PLACEMENT, placement(lambda e, r: {
        "status": "extended", "term_months": e.data["term_months"], "ends_on": e.data["ends_on"]})),
    "posting.PlacementCompleted": Rule(PLACEMENT, placement(lambda e, r: {
        "status": "completed", "outcome": e.data["outcome"], "ended_on": e.data["completed_on"]})),
    "posting.PlacementRecalled": Rule(PLACEMENT, placement(lambda e, r: {
        "status": "recalled", "recall_reason": e.data["reason"], "ended_on": e.data["recalled_on"]})),
    "posting.CheckInRecorded": Rule(PLACEMENT, placement(checked_in)),
    "posting.CheckInOverdue": Rule(PLACEMENT, placement(lambda e, r: {
        "overdue_open": True, "overdue_raised_on": e.data["raised_on"],
        "days_without_check_in": e.data["days_without_check_in"]})),
    "posting.CheckInOverdueCleared": Rule(PLACEMENT, placement(lambda e, r: {
        "overdue_open": False, "overdue_raised_on": None, "days_without_check_in": None})),
    "posting.AttendanceReported": Rule(PLACEMENT, placement(lambda e, r: {})),
    "posting.DisciplineIncidentRecorded": Rule(PLACEMENT, placement(count("discipline_incidents"))),
    "posting.TrainingRecorded": Rule(PLACEMENT, placement(count("trainings", hours=True))),
    "posting.RewardDecided": Rule(PLACEMENT, placement(count("rewards"))),
    "posting.PenaltyDecided": Rule(PLACEMENT, placement(count("penalties"))),
    "posting.PlacementPlanRecorded": Rule(lambda e: [("plans", (int(e.data["year"]),))], plan),
}
