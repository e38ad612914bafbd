"""Events of an annual or end-of-term assessment. Ballots and tallies name a rater group, never a rater."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.backbone.domain import Event


@dataclass(frozen=True)
class AssessmentOpened(Event):
    TYPE = "assessment.AssessmentOpened"
    assessment_id: str
    kind: str
    year: int
    placement_id: str
    cadre_id: str
    host_unit: str
    home_unit: str
    placement_type: str
    policy_version: str
    policy: dict[str, Any]


@dataclass(frozen=True)
class SelfEvaluationEntered(Event):
    TYPE = "assessment.SelfEvaluationEntered"
    assessment_id: str
    entry_id: str
    text: str


@dataclass(frozen=True)
class SelfEvaluationCorrected(Event):
    TYPE = "assessment.SelfEvaluationCorrected"
    assessment_id: str
    entry_id: str
    corrects_entry_id: str
    text: str
    reason: str


@dataclass(frozen=True)
class BallotCast(Event):
    TYPE = "assessment.BallotCast"
    assessment_id: str
    entry_id: str
    rater_group: str
    grade: str


@dataclass(frozen=True)
class BallotTokensIssued(Event):
    """One-time ballot tokens handed to a rater group; how many, never to whom (the tokens are not events)."""

    TYPE = "assessment.BallotTokensIssued"
    assessment_id: str
    entry_id: str
    rater_group: str
    count: int


@dataclass(frozen=True)
class TallyEntered(Event):
    TYPE = "assessment.TallyEntered"
    assessment_id: str
    entry_id: str
    rater_group: str
    counts: dict[str, int]


@dataclass(frozen=True)
class DemocraticEntryCorrected(Event):
    """Replaces a ballot or tally (or an earlier correction) by `counts`; all zeros voids it. Only the organisation
    department corrects the vote, with a reason (the host unit that enters ballots and tallies does not)."""

    TYPE = "assessment.DemocraticEntryCorrected"
    assessment_id: str
    entry_id: str
    corrects_entry_id: str
    rater_group: str
    counts: dict[str, int]
    reason: str


@dataclass(frozen=True)
class PerformanceScoreEntered(Event):
    TYPE = "assessment.PerformanceScoreEntered"
    assessment_id: str
    entry_id: str
    dimension: str
    score: float
    evidence: str


@dataclass(frozen=True)
class PerformanceScoreCorrected(Event):
    TYPE = "assessment.PerformanceScoreCorrected"
    assessment_id: str
    entry_id: str
    corrects_entry_id: str
    dimension: str
    score: float
    evidence: str
    reason: str


@dataclass(frozen=True)
class PerformanceScoreAdjusted(Event):
    """Moves a dimension's score by `delta` points on top of its entry (a reward or a discipline incident)."""

    TYPE = "assessment.PerformanceScoreAdjusted"
    assessment_id: str
    entry_id: str
    dimension: str
    delta: float
    reason: str


@dataclass(frozen=True)
class AssessmentFinalised(Event):
    """The host unit's final grade. It closes the ballot: tokens not spent by then never vote, even after a reopen."""

    TYPE = "assessment.AssessmentFinalised"
    assessment_id: str
    cadre_id: str
    placement_id: str
    host_unit: str
    year: int
    kind: str
    final_grade: str
    proposed_grade: str
    composite: float
    policy_version: str
    reason: str | None


@dataclass(frozen=True)
class WarningRaised(Event):
    """A recommendation to look into a result; it sanctions nobody."""

    TYPE = "assessment.WarningRaised"
    assessment_id: str
    cadre_id: str
    rule: str
    share: float
    threshold: float
    policy_version: str


@dataclass(frozen=True)
class AssessmentReopened(Event):
    """An appeal reopens the result: the ballots and tallies recorded stay counted (unless the organisation
    department corrects them); tokens issued before the finalisation stay void, new ones may be issued."""

    TYPE = "assessment.AssessmentReopened"
    assessment_id: str
    cadre_id: str
    appealed_by: str
    previous_grade: str
    reason: str
