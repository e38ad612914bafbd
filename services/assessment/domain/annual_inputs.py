"""Commands that enter or correct the self-evaluation and performance analysis; one event each."""
from __future__ import annotations

from dataclasses import dataclass

from services.backbone.domain import (
    Context,
    Decision,
    DomainError,
    StepOrderError,
)

from . import annual_events as ev
from .annual_state import Assessment, open_for_host, require_live_entry
from .guards import (
    require_member,
    require_reason,
    require_score,
    require_text,
)
from .vocabulary import DIMENSIONS


@dataclass(frozen=True)
class EnterSelfEvaluation:
    assessment_id: str
    text: str


@dataclass(frozen=True)
class CorrectSelfEvaluation:
    assessment_id: str
    corrects_entry_id: str
    text: str


@dataclass(frozen=True)
class EnterPerformanceScore:
    assessment_id: str
    dimension: str
    score: float
    evidence: str


@dataclass(frozen=True)
class CorrectPerformanceScore:
    assessment_id: str
    corrects_entry_id: str
    score: float
    evidence: str


@dataclass(frozen=True)
class AdjustPerformanceScore:
    assessment_id: str
    dimension: str
    delta: float


def decide_enter_self_evaluation(state: Assessment | None, command: EnterSelfEvaluation, ctx: Context) -> Decision:
    s = open_for_host(state, ctx)
    require_text(command.text, "self-evaluation")
    if s.self_evaluation:
        raise StepOrderError("self_evaluation_already_entered", "a self-evaluation exists; correct it instead")
    return Decision([ev.SelfEvaluationEntered(s.assessment_id, s.next_entry_id(), command.text)])


def decide_correct_self_evaluation(state: Assessment | None, command: CorrectSelfEvaluation, ctx: Context) -> Decision:
    s = open_for_host(state, ctx)
    require_live_entry(s.self_evaluation, command.corrects_entry_id)
    require_text(command.text, "self-evaluation")
    reason = require_reason(ctx, "correct a self-evaluation")
    event = ev.SelfEvaluationCorrected(s.assessment_id, s.next_entry_id(), command.corrects_entry_id, command.text, reason)
    return Decision([event])


def decide_enter_performance_score(state: Assessment | None, command: EnterPerformanceScore, ctx: Context) -> Decision:
    s = open_for_host(state, ctx)
    require_member(command.dimension, DIMENSIONS, "unknown_dimension", "dimension")
    require_score(command.score, command.dimension)
    require_text(command.evidence, "evidence")
    if s.score_entry_for(command.dimension):
        raise StepOrderError("score_already_entered", f"{command.dimension} already has a score; correct it instead")
    event = ev.PerformanceScoreEntered(
        s.assessment_id, s.next_entry_id(), command.dimension, command.score, command.evidence,
    )
    return Decision([event])


def decide_correct_performance_score(
    state: Assessment | None, command: CorrectPerformanceScore, ctx: Context,
) -> Decision:
    s = open_for_host(state, ctx)
    require_live_entry(s.scores, command.corrects_entry_id)
    dimension = s.scores[command.corrects_entry_id].dimension
    require_score(command.score, dimension)
    require_score(command.score + s.adjustments.get(dimension, 0.0), f"adjusted {dimension}")
    require_text(command.evidence, "evidence")
    reason = require_reason(ctx, "correct a performance score")
    event = ev.PerformanceScoreCorrected(
        s.assessment_id, s.next_entry_id(), command.corrects_entry_id, dimension,
        command.score, command.evidence, reason,
    )
    return Decision([event])


def decide_adjust_performance_score(state: Assessment | None, command: AdjustPerformanceScore, ctx: Context) -> Decision:
    s = open_for_host(state, ctx)
    require_member(command.dimension, DIMENSIONS, "unknown_dimension", "dimension")
    if command.dimension not in s.effective_scores():
        raise StepOrderError("score_missing", f"{command.dimension} has no score to adjust")
    if command.delta == 0:
        raise DomainError("empty_adjustment", "an adjustment must move the score")
    require_score(s.effective_scores()[command.dimension] + command.delta, f"adjusted {command.dimension}")
    reason = require_reason(ctx, "adjust a performance score")
    event = ev.PerformanceScoreAdjusted(s.assessment_id, s.next_entry_id(), command.dimension, command.delta, reason)
    return Decision([event])
