"""Events of a leadership-team comprehensive assessment campaign (领导班子综合考核).

A score entry that carries `corrects_entry_id` (with a reason) supersedes that earlier entry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.backbone.domain import Event


@dataclass(frozen=True)
class CampaignOpened(Event):
    TYPE = "assessment.CampaignOpened"
    campaign_id: str
    year: int
    units: list[str]
    agency: str
    settings_version: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class TeamDemocraticScoresEntered(Event):
    """Mean scores per focus from a democratic evaluation; the respondents stay anonymous."""

    TYPE = "assessment.TeamDemocraticScoresEntered"
    campaign_id: str
    entry_id: str
    unit: str
    focus_scores: dict[str, float]
    respondents: int
    corrects_entry_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class TeamScoreRecorded(Event):
    """A performance-analysis score, or the qualitative score the evaluators give a team."""

    TYPE = "assessment.TeamScoreRecorded"
    campaign_id: str
    entry_id: str
    unit: str
    source: str
    score: float
    note: str
    corrects_entry_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class InterviewNoteRecorded(Event):
    TYPE = "assessment.InterviewNoteRecorded"
    campaign_id: str
    entry_id: str
    unit: str
    focus: str
    note: str


@dataclass(frozen=True)
class SurveyReportUploaded(Event):
    """The agency's survey results per unit. A revision (`revises_entry_id`, with a reason) replaces the results
    of the units it lists; a unit it does not list keeps the result of the earlier report."""

    TYPE = "assessment.SurveyReportUploaded"
    campaign_id: str
    entry_id: str
    agency: str
    results: list[dict[str, Any]]
    revises_entry_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class FindingRecorded(Event):
    """A finding of an audit or state-assets body, with the points it deducts from the team's composite."""

    TYPE = "assessment.FindingRecorded"
    campaign_id: str
    entry_id: str
    unit: str
    source: str
    summary: str
    deduction: float


@dataclass(frozen=True)
class TeamAssessmentFinalised(Event):
    TYPE = "assessment.TeamAssessmentFinalised"
    campaign_id: str
    unit: str
    team_grade: str
    proposed_grade: str
    composite: float
    qualitative: float
    quantitative: float
    settings_version: str
    reason: str | None


@dataclass(frozen=True)
class ResultUseRecorded(Event):
    TYPE = "assessment.ResultUseRecorded"
    campaign_id: str
    unit: str
    use: str
    note: str
