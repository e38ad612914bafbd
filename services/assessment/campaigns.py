"""Use cases and views of leadership-team comprehensive assessment campaigns (领导班子综合考核)."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from services.assessment import domain as d
from services.assessment.handlers import REGISTRY
from services.backbone.commands import Aggregates, CommandMeta, CommandResult
from services.backbone.domain import Actor, DomainError, NotFoundError
from services.backbone.envelope import RecordedEvent

CAMPAIGN_READERS = ("organisation_department", "party_committee", "auditor", "integration", "operator")


def campaign_stream(campaign_id: str) -> str:
    return f"campaign-{campaign_id}"


def open_campaign(agg: Aggregates, meta: CommandMeta, payload: dict[str, Any]) -> CommandResult:
    """Open a campaign with its weights and thresholds frozen into it."""
    settings = d.CampaignSettings(**payload["settings"])
    command = d.OpenCampaign(payload["campaign_id"], payload["year"], payload["units"], payload["agency"])
    return agg.execute(campaign_stream(command.campaign_id), d.fold_campaign,
                       lambda s: d.decide_open_campaign(s, command, meta.context, settings), meta)


def survey_rows(text: str) -> list[dict[str, Any]]:
    """The CSV's rows under its header line; the domain numbers them from line 2, as in the file."""
    try:
        return [dict(row) for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))]
    except csv.Error as exc:
        raise DomainError("survey_malformed", f"survey rule: the file is not readable CSV ({exc})") from None


# Step name -> (command from the campaign id, the URL's unit and the body; the domain decision).
_STEPS: dict[str, tuple[Callable[[str, str | None, dict[str, Any]], Any], Callable[..., Any]]] = {
    "democratic": (lambda c, _, p: d.EnterTeamDemocraticScores(c, p["unit"], p["focus_scores"], p["respondents"],
                                                               p["corrects_entry_id"]),
                   d.decide_enter_team_democratic_scores),
    "score": (lambda c, _, p: d.RecordTeamScore(c, p["unit"], p["source"], p["score"], p["note"], p["corrects_entry_id"]),
              d.decide_record_team_score),
    "interview": (lambda c, _, p: d.RecordInterviewNote(c, p["unit"], p["focus"], p["note"]),
                  d.decide_record_interview_note),
    "finding": (lambda c, _, p: d.RecordFinding(c, p["unit"], p["source"], p["summary"], p["deduction"]),
                d.decide_record_finding),
    "survey": (lambda c, _, p: d.UploadSurveyReport(c, survey_rows(p["csv"]), p["revises_entry_id"]),
               d.decide_upload_survey_report),
    "finalise": (lambda c, u, p: d.FinaliseTeamAssessment(c, str(u), p["team_grade"]),
                 d.decide_finalise_team_assessment),
    "result_use": (lambda c, u, p: d.RecordResultUse(c, str(u), p["use"], p["note"]), d.decide_record_result_use),
}


def campaign_step(agg: Aggregates, meta: CommandMeta, campaign_id: str, step: str, payload: dict[str, Any],
                  if_match: int | None, unit: str | None = None) -> CommandResult:
    """One input, upload, finalisation or recorded use on a campaign: one event, with actor and reason."""
    build, decide = _STEPS[step]
    command = build(campaign_id, unit, payload)
    return agg.execute(campaign_stream(campaign_id), d.fold_campaign,
                       lambda s: decide(s, command, meta.context), meta, if_match)


def load(agg: Aggregates, campaign_id: str, until: datetime | None = None) -> tuple[d.Campaign, list[RecordedEvent]]:
    """The campaign and its recorded events (as recorded at `until`, if given), or NotFoundError."""
    recorded = agg.store.read_stream(campaign_stream(campaign_id), until=until)
    state = d.fold_campaign(REGISTRY.load(r) for r in recorded)
    if state is None:
        raise NotFoundError("campaign_not_found", f"no campaign {campaign_id}")
    return state, recorded


OPENED_WITH = ("units", "agency")  # fixed when a campaign opens: who may read it, so a list pages by them


def campaign_page(agg: Aggregates, offset: int, limit: int, readable: Callable[[Sequence[str], str], bool],
                  until: datetime | None = None) -> tuple[list[d.Campaign], int]:
    """One page (by id) of the campaigns `readable` admits (given the units and agency they were opened with),
    as recorded at `until` (if given), and how many it admits: only the page is folded."""
    opened = agg.store.opening_data("campaign-", d.CampaignOpened.TYPE, OPENED_WITH, until)
    streams = [stream for stream, keys in opened.items() if readable(keys["units"], keys["agency"])]
    folded = agg.fold_streams(streams[offset:offset + limit], d.fold_campaign, until)
    return [c for _, c in folded.values() if c is not None], len(streams)


def may_read(actor: Actor | None, c: d.Campaign) -> bool:
    """Overseers, the appointed agency, and the assessed units themselves."""
    return may_read_opened(actor, c.units, c.agency)


def may_read_opened(actor: Actor | None, units: Sequence[str], agency: str) -> bool:
    """`may_read` for a campaign opened for these units with this agency."""
    if actor is None or actor.role in CAMPAIGN_READERS:
        return True
    return actor.unit == agency or actor.unit in units


def units_shown(actor: Actor | None, c: d.Campaign) -> list[str]:
    """The units of a campaign whose results `actor` reads: every unit for overseers and the appointed agency,
    only its own team for an assessed unit (a fellow unit's sources, grade and result uses are not its own)."""
    if actor is None or actor.role in CAMPAIGN_READERS or actor.unit == c.agency:
        return list(c.units)
    return [unit for unit in c.units if unit == actor.unit]


def campaign_summary(c: d.Campaign, actor: Actor | None = None) -> dict[str, Any]:
    units = units_shown(actor, c)
    return {"campaign_id": c.campaign_id, "year": c.year, "units": units,
            "finals": {u: g for u, g in c.finals.items() if u in units}}


def campaign_view(c: d.Campaign, recorded: list[RecordedEvent], actor: Actor | None = None) -> dict[str, Any]:
    uses: dict[str, list[dict[str, str]]] = {}
    for r in recorded:
        if r.type == d.ResultUseRecorded.TYPE:
            uses.setdefault(r.data["unit"], []).append(
                {"use": r.data["use"], "label": d.RESULT_USE_LABELS[r.data["use"]], "note": r.data["note"]})
    return {
        "campaign_id": c.campaign_id, "year": c.year, "agency": c.agency, "version": c.version,
        "settings_version": c.settings.version, "settings": c.settings.as_dict(), "survey_entry_id": c.survey_entry_id,
        "units": {unit: _unit_view(c, unit, uses.get(unit, [])) for unit in units_shown(actor, c)},
    }


def _unit_view(c: d.Campaign, unit: str, uses: list[dict[str, str]]) -> dict[str, Any]:
    sources = {}
    for source in (*d.TEAM_SOURCES, "qualitative"):
        entry = c.score_of(source, unit)
        sources[source] = {"entry_id": entry[0], "score": entry[1], "label": d.TEAM_SOURCE_LABELS[source]} if entry else None
    grade = c.finals.get(unit)
    return {"sources": sources, "interview_notes": c.interviews.get(unit, 0), "deductions": c.deductions.get(unit, 0.0),
            "team_grade": grade, "team_grade_label": d.TEAM_GRADE_LABELS.get(grade or ""), "uses": uses}
