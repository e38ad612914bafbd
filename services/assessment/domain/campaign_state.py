"""The campaign aggregate: one leadership-team assessment over several units, and how its events change it."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import reduce
from typing import Any

from services.backbone.domain import Event, NotFoundError, StepOrderError

from . import campaign_events as ev
from .campaign_settings import CampaignSettings

# unit -> (entry id, score); one live entry per unit and source.
Scores = Mapping[str, tuple[str, float]]


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    year: int
    units: tuple[str, ...]
    agency: str
    settings: CampaignSettings
    version: int = 1
    scores: Mapping[str, Scores] = field(default_factory=dict)
    survey_entry_id: str | None = None
    interviews: Mapping[str, int] = field(default_factory=dict)
    deductions: Mapping[str, float] = field(default_factory=dict)
    finals: Mapping[str, str] = field(default_factory=dict)

    def next_entry_id(self) -> str:
        return f"E{self.version + 1}"

    def score_of(self, source: str, unit: str) -> tuple[str, float] | None:
        return self.scores.get(source, {}).get(unit)


def campaign_unit(state: Campaign | None, unit: str) -> Campaign:
    """The campaign, if it exists, assesses `unit` and has not finalised it."""
    if state is None:
        raise NotFoundError("campaign_not_found", "no such campaign")
    if unit not in state.units:
        raise NotFoundError("unit_not_in_campaign", f"unit {unit} is not assessed in campaign {state.campaign_id}")
    if unit in state.finals:
        raise StepOrderError("unit_finalised", f"the team of unit {unit} is already finalised")
    return state


def _with_scores(c: Campaign, source: str, entries: Mapping[str, tuple[str, float]]) -> Campaign:
    return replace(c, scores={**c.scores, source: {**c.scores.get(source, {}), **entries}})


def _democratic(c: Campaign, e: ev.TeamDemocraticScoresEntered) -> Campaign:
    return _with_scores(c, "democratic", {e.unit: (e.entry_id, c.settings.democratic_score(e.focus_scores))})


def _survey(c: Campaign, e: ev.SurveyReportUploaded) -> Campaign:
    entries = {r["unit"]: (e.entry_id, float(r["score"])) for r in e.results}
    return replace(_with_scores(c, "survey", entries), survey_entry_id=e.entry_id)


def _counted(totals: Mapping[str, Any], unit: str, amount: Any) -> dict[str, Any]:
    return {**totals, unit: totals.get(unit, 0) + amount}


_APPLY: dict[type[Event], Callable[[Campaign, Any], Campaign]] = {
    ev.TeamDemocraticScoresEntered: _democratic,
    ev.TeamScoreRecorded: lambda c, e: _with_scores(c, e.source, {e.unit: (e.entry_id, e.score)}),
    ev.SurveyReportUploaded: _survey,
    ev.InterviewNoteRecorded: lambda c, e: replace(c, interviews=_counted(c.interviews, e.unit, 1)),
    ev.FindingRecorded: lambda c, e: replace(c, deductions=_counted(c.deductions, e.unit, e.deduction)),
    ev.TeamAssessmentFinalised: lambda c, e: replace(c, finals={**c.finals, e.unit: e.team_grade}),
}


def evolve_campaign(state: Campaign | None, event: Event) -> Campaign:
    """The state after `event`; the first event of a campaign stream must be CampaignOpened."""
    if state is None:
        if not isinstance(event, ev.CampaignOpened):
            raise ValueError(f"a campaign stream must start with CampaignOpened, not {event.TYPE}")
        return Campaign(
            campaign_id=event.campaign_id, year=event.year, units=tuple(event.units), agency=event.agency,
            settings=CampaignSettings.from_dict(event.settings),
        )
    apply = _APPLY.get(type(event))
    changed = apply(state, event) if apply else state
    return replace(changed, version=state.version + 1)


def fold_campaign(events: Iterable[Event]) -> Campaign | None:
    return reduce(evolve_campaign, events, None)
