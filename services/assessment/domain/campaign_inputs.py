"""Commands that feed a campaign: democratic scores, interview notes, scores, audit findings."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.backbone.domain import (
    Context,
    Decision,
    DomainError,
    NotFoundError,
    StepOrderError,
)

from . import campaign_events as ev
from .campaign_state import Campaign, campaign_unit
from .guards import (
    require_member,
    require_reason,
    require_role,
    require_score,
    require_text,
)
from .vocabulary import FINDING_SOURCES, FOCUSES


@dataclass(frozen=True)
class EnterTeamDemocraticScores:
    campaign_id: str
    unit: str
    focus_scores: Mapping[str, float]
    respondents: int
    corrects_entry_id: str | None = None


@dataclass(frozen=True)
class RecordTeamScore:
    """source: `performance` (实绩分析) or `qualitative` (the evaluators' judgement after interviews)."""

    campaign_id: str
    unit: str
    source: str
    score: float
    note: str
    corrects_entry_id: str | None = None


@dataclass(frozen=True)
class RecordInterviewNote:
    campaign_id: str
    unit: str
    focus: str
    note: str


@dataclass(frozen=True)
class RecordFinding:
    campaign_id: str
    unit: str
    source: str
    summary: str
    deduction: float


def _correction(c: Campaign, source: str, unit: str, corrects: str | None, ctx: Context) -> str | None:
    """None for a first entry; the reason for a correction of the live entry."""
    live = c.score_of(source, unit)
    if corrects is None:
        if live is not None:
            raise StepOrderError("score_already_recorded", f"{unit} has a {source} score ({live[0]}); correct it")
        return None
    if live is None or live[0] != corrects:
        raise NotFoundError("entry_not_found", f"no live {source} entry {corrects} for {unit}")
    return require_reason(ctx, f"correct a {source} score")


def decide_enter_team_democratic_scores(
    state: Campaign | None, command: EnterTeamDemocraticScores, ctx: Context,
) -> Decision:
    require_role(ctx, "organisation_department")
    c = campaign_unit(state, command.unit)
    if set(command.focus_scores) != set(FOCUSES):
        raise DomainError("focus_scores_incomplete", f"scores are needed for exactly {', '.join(FOCUSES)}")
    for focus, score in command.focus_scores.items():
        require_score(score, focus)
    if command.respondents < c.settings.min_respondents:
        raise DomainError(
            "too_few_respondents",
            f"{command.respondents} respondents is below the minimum of {c.settings.min_respondents}",
        )
    reason = _correction(c, "democratic", command.unit, command.corrects_entry_id, ctx)
    event = ev.TeamDemocraticScoresEntered(
        c.campaign_id, c.next_entry_id(), command.unit, dict(command.focus_scores), command.respondents,
        command.corrects_entry_id, reason,
    )
    return Decision([event], policy_version=c.settings.version)


def decide_record_team_score(state: Campaign | None, command: RecordTeamScore, ctx: Context) -> Decision:
    require_role(ctx, "organisation_department")
    c = campaign_unit(state, command.unit)
    require_member(command.source, ("performance", "qualitative"), "unknown_score_source", "score source")
    require_score(command.score, command.source)
    require_text(command.note, "note")
    if command.source == "qualitative" and not c.interviews.get(command.unit):
        raise StepOrderError("interviews_missing", f"no interview notes for {command.unit} back a qualitative score")
    reason = _correction(c, command.source, command.unit, command.corrects_entry_id, ctx)
    event = ev.TeamScoreRecorded(
        c.campaign_id, c.next_entry_id(), command.unit, command.source, command.score, command.note,
        command.corrects_entry_id, reason,
    )
    return Decision([event])


def decide_record_interview_note(state: Campaign | None, command: RecordInterviewNote, ctx: Context) -> Decision:
    require_role(ctx, "organisation_department")
    c = campaign_unit(state, command.unit)
    require_member(command.focus, FOCUSES, "unknown_focus", "focus")
    require_text(command.note, "interview note")
    return Decision([ev.InterviewNoteRecorded(c.campaign_id, c.next_entry_id(), command.unit, command.focus, command.note)])


def decide_record_finding(state: Campaign | None, command: RecordFinding, ctx: Context) -> Decision:
    require_role(ctx, "organisation_department")
    c = campaign_unit(state, command.unit)
    require_member(command.source, FINDING_SOURCES, "unknown_finding_source", "finding source")
    require_text(command.summary, "finding summary")
    require_score(command.deduction, "deduction")
    event = ev.FindingRecorded(
        c.campaign_id, c.next_entry_id(), command.unit, command.source, command.summary, command.deduction,
    )
    return Decision([event])
