"""How assessment's events change the assessment results, the democratic-evaluation entries, the roster
and the team results. Pure. Ballot grades and tallies reach only `assessment_entries`, whose group sums
leave the service only when they reach the assessment's minimum count."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.reporting.model import Attribution, Rule, SourceEvent, Working
from services.reporting.rules_posting import attribution
from services.reporting.rules_selection import on

GRADES = ("excellent", "competent", "basically_competent", "incompetent")
OPENED_FIELDS = ("kind", "year", "placement_id", "cadre_id", "host_unit", "home_unit", "placement_type", "policy_version")
ROSTER_STATUS = {"posting.PlacementStarted": "active", "posting.PlacementCompleted": "completed",
                 "posting.PlacementRecalled": "recalled"}


def opened(e: SourceEvent, w: Working) -> Attribution:
    values = {f: e.data.get(f) for f in OPENED_FIELDS}
    values.update(min_group_count=int((e.data.get("policy") or {}).get("min_group_count", 5)), status="open", warnings=0,
                  reopened=0)
    return attribution(w.put("assessments", (e.data["assessment_id"],), values, e))


def assessment(change: Callable[[SourceEvent, dict[str, Any]], dict[str, Any]]) -> Callable[[SourceEvent, Working], Attribution]:
    """A rule that changes an open assessment by `change(event, row)`; an empty change only attributes."""
    def apply(e: SourceEvent, w: Working) -> Attribution:
        key = (e.data["assessment_id"],)
        row = w.get("assessments", key)
        if row is None:
            return Attribution(e.data.get("cadre_id"))
        values = change(e, row)
        return attribution(w.put("assessments", key, values, e) if values else row)
    return apply


def finalised(e: SourceEvent, row: dict[str, Any]) -> dict[str, Any]:
    return {"status": "finalised", "final_grade": e.data["final_grade"], "proposed_grade": e.data.get("proposed_grade"),
            "composite": e.data.get("composite")}


def _counts(raw: dict[str, Any]) -> dict[str, int]:
    return {g: int(raw.get(g) or 0) for g in GRADES}


def entry(counts_of: Callable[[SourceEvent], dict[str, int]]) -> Callable[[SourceEvent, Working], Attribution]:
    """A ballot, tally or correction: a live entry, and the entry it corrects (if any) no longer live."""
    def apply(e: SourceEvent, w: Working) -> Attribution:
        a = e.data["assessment_id"]
        corrects = e.data.get("corrects_entry_id")
        if corrects and w.get("assessment_entries", (a, corrects)) is not None:
            w.put("assessment_entries", (a, corrects), {"live": False}, e)
        values = {"rater_group": e.data["rater_group"], "live": True, **counts_of(e)}
        w.put("assessment_entries", (a, e.data["entry_id"]), values, e)
        return attribution(w.get("assessments", (a,)))
    return apply


def entry_needs(e: SourceEvent) -> list[tuple[str, tuple[Any, ...]]]:
    a = e.data["assessment_id"]
    slots: list[tuple[str, tuple[Any, ...]]] = [("assessments", (a,)), ("assessment_entries", (a, e.data["entry_id"]))]
    if e.data.get("corrects_entry_id"):
        slots.append(("assessment_entries", (a, e.data["corrects_entry_id"])))
    return slots


def noted(e: SourceEvent, w: Working) -> Attribution:
    key, noted_type, data = (e.data["placement_id"],), e.data.get("source_type"), e.data.get("data") or {}
    row = w.get("roster", key)
    if noted_type == "posting.PlacementPlanned":
        fields = ("cadre_id", "host_unit", "home_unit", "placement_type")
        row = w.put("roster", key, {**{f: data.get(f) for f in fields}, "status": "planned"}, e)
    elif row is not None and noted_type in ROSTER_STATUS:
        row = w.put("roster", key, {"status": ROSTER_STATUS[noted_type]}, e)
    return attribution(row)


def campaign_opened(e: SourceEvent, w: Working) -> Attribution:
    units = [str(u) for u in e.data.get("units") or []]
    values = {"year": e.data.get("year"), "units": units, "agency": e.data.get("agency"),
              "settings_version": e.data.get("settings_version")}
    w.put("campaigns", (e.data["campaign_id"],), values, e)
    return Attribution(None, tuple(units))


def team_finalised(e: SourceEvent, w: Working) -> Attribution:
    campaign = w.get("campaigns", (e.data["campaign_id"],))
    fields = ("team_grade", "proposed_grade", "composite", "qualitative", "quantitative", "settings_version", "reason")
    values = {f: e.data.get(f) for f in fields}
    values["year"] = campaign["year"] if campaign else None
    w.put("team_results", (e.data["campaign_id"], e.data["unit"]), values, e)
    return Attribution(None, (e.data["unit"],))


def unit_only(e: SourceEvent, w: Working) -> Attribution:
    units = {e.data["unit"]} if e.data.get("unit") else set()
    units |= {r["unit"] for r in e.data.get("results") or [] if isinstance(r, dict) and r.get("unit")}
    return Attribution(None, tuple(sorted(units)))


ASSESSMENT = on("assessments", "assessment_id")
ATTRIBUTE = assessment(lambda e, r: {})
RULES: dict[str, Rule] = {
    "assessment.AssessmentOpened": Rule(ASSESSMENT, opened),
    "assessment.AssessmentFinalised": Rule(ASSESSMENT, assessment(finalised)),
    # the grades, the composite and the warnings belong to the finalisation the reopening undoes (the next one
    # gives its own)
    "assessment.AssessmentReopened": Rule(ASSESSMENT, assessment(lambda e, r: {
        "status": "open", "final_grade": None, "proposed_grade": None, "composite": None, "warnings": 0,
        "reopened": r["reopened"] + 1})),
    "assessment.WarningRaised": Rule(ASSESSMENT, assessment(lambda e, r: {"warnings": r["warnings"] + 1})),
    "assessment.BallotCast": Rule(entry_needs, entry(lambda e: _counts({e.data["grade"]: 1}))),
    "assessment.TallyEntered": Rule(entry_needs, entry(lambda e: _counts(e.data["counts"]))),
    "assessment.DemocraticEntryCorrected": Rule(entry_needs, entry(lambda e: _counts(e.data["counts"]))),
    "assessment.BallotTokensIssued": Rule(ASSESSMENT, ATTRIBUTE),
    "assessment.SelfEvaluationEntered": Rule(ASSESSMENT, ATTRIBUTE),
    "assessment.SelfEvaluationCorrected": Rule(ASSESSMENT, ATTRIBUTE),
    "assessment.PerformanceScoreEntered": Rule(ASSESSMENT, ATTRIBUTE),
    "assessment.PerformanceScoreCorrected": Rule(ASSESSMENT, ATTRIBUTE),
    "assessment.PerformanceScoreAdjusted": Rule(ASSESSMENT, ATTRIBUTE),
    "assessment.PlacementEventNoted": Rule(on("roster", "placement_id"), noted),
    "assessment.CampaignOpened": Rule(on("campaigns", "campaign_id"), campaign_opened),
    "assessment.TeamAssessmentFinalised": Rule(
        lambda e: [("campaigns", (e.data["campaign_id"],)), ("team_results", (e.data["campaign_id"], e.data["unit"]))],
        team_finalised),
    "assessment.TeamDemocraticScoresEntered": Rule(lambda e: [], unit_only),
    "assessment.TeamScoreRecorded": Rule(lambda e: [], unit_only),
    "assessment.InterviewNoteRecorded": Rule(lambda e: [], unit_only),
    "assessment.SurveyReportUploaded": Rule(lambda e: [], unit_only),
    "assessment.FindingRecorded": Rule(lambda e: [], unit_only),
    "assessment.ResultUseRecorded": Rule(lambda e: [], unit_only),
}
