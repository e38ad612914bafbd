"""Opening, finalising and reopening (on appeal) an annual or end-of-term assessment."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.backbone.domain import (
    Context,
    Decision,
    DomainError,
    Event,
    NotFoundError,
    StepOrderError,
    latest_past_day,
)

from . import annual_events as ev
from . import scoring
from .annual_state import FINALISED, Assessment, open_for_host
from .guards import require_member, require_own_unit, require_reason, require_role
from .placements import ActivePlacement, PlacementRoster
from .policy import AssessmentPolicy
from .vocabulary import ANNUAL, DIMENSIONS, GRADES, KINDS


@dataclass(frozen=True)
class OpenAssessment:
    placement_id: str
    kind: str
    year: int


@dataclass(frozen=True)
class FinaliseAssessment:
    assessment_id: str
    final_grade: str


@dataclass(frozen=True)
class ReopenAssessment:
    """An appeal against a finalised result."""

    assessment_id: str


def assessment_id_for(placement_id: str, kind: str, year: int) -> str:
    """The stream id: one annual assessment per placement and year, one end-of-term appraisal per placement."""
    return f"{placement_id}/{year}" if kind == ANNUAL else f"{placement_id}/end-of-term"


def _placement(roster: PlacementRoster, command: OpenAssessment, ctx: Context) -> ActivePlacement:
    if command.kind == ANNUAL:
        placement = roster.active.get(command.placement_id)
        if placement is None:
            raise NotFoundError("placement_not_active", f"placement {command.placement_id} is not active")
    else:
        placement = roster.completed.get(command.placement_id)
        if placement is None:
            raise StepOrderError("placement_not_completed", f"placement {command.placement_id} has not completed its term")
    # An end-of-term appraisal's year places it in a cohort (and in the cadre's record) just as an annual one's.
    if command.year > latest_past_day(ctx.now).year:  # the county's new year begins before UTC's
        raise DomainError("assessment_year_in_future", f"year {command.year} has not begun (now {ctx.now.year})")
    if placement.started_on and command.year < int(placement.started_on[:4]):
        raise DomainError("assessment_year_before_placement",
                          f"placement {placement.placement_id} started on {placement.started_on}, after {command.year}")
    return placement


def decide_open_assessment(
    state: Assessment | None, command: OpenAssessment, ctx: Context,
    roster: PlacementRoster, policy: AssessmentPolicy,
) -> Decision:
    """Open an assessment on the stream `assessment_id_for(...)`; `state` is what that stream holds."""
    require_role(ctx, "host_unit")
    require_member(command.kind, KINDS, "unknown_assessment_kind", "assessment kind")
    placement = _placement(roster, command, ctx)
    require_own_unit(ctx, placement.host_unit)
    assessment_id = assessment_id_for(command.placement_id, command.kind, command.year)
    if state is not None:
        raise StepOrderError("assessment_already_open", f"assessment {assessment_id} already exists")
    event = ev.AssessmentOpened(
        assessment_id=assessment_id, kind=command.kind, year=command.year,
        placement_id=placement.placement_id, cadre_id=placement.cadre_id, host_unit=placement.host_unit,
        home_unit=placement.home_unit, placement_type=placement.placement_type,
        policy_version=policy.version, policy=policy.as_dict(),
    )
    return Decision([event], policy_version=policy.version)


def _require_complete(s: Assessment) -> None:
    if not s.self_evaluation:
        raise StepOrderError("self_evaluation_missing", "the self-evaluation has not been entered")
    missing = [d for d in DIMENSIONS if d not in s.effective_scores()]
    if missing:
        raise StepOrderError("performance_scores_missing", f"no performance score for {', '.join(missing)}")
    short = scoring.quorum_shortfalls(s.tallies_by_group(), s.policy)
    if short:
        counts = ", ".join(f"{g} {n}" for g, n in short.items())
        raise DomainError(
            "quorum_not_met",
            f"rater groups below the minimum of {s.policy.min_group_count} ballots: {counts}",
            minimum=s.policy.min_group_count, counts=short,
        )


def decide_finalise_assessment(
    state: Assessment | None, command: FinaliseAssessment, ctx: Context,
    cohort_finals: Mapping[str, str | None],
) -> Decision:
    """Finalise with the host unit's grade; `cohort_finals` maps the cohort's assessments to their finals."""
    s = open_for_host(state, ctx)
    require_member(command.final_grade, GRADES, "unknown_grade", "grade")
    _require_complete(s)
    by_group = s.tallies_by_group()
    composite = scoring.composite_score(by_group, s.effective_scores(), s.policy)
    proposed = scoring.proposed_grade(composite, s.policy)
    reason = require_reason(ctx, "depart from the proposed grade") if command.final_grade != proposed else ctx.reason
    scoring.check_excellent_cap(cohort_finals, s.assessment_id, command.final_grade, s.policy.excellent_cap)
    events: list[Event] = [ev.AssessmentFinalised(
        assessment_id=s.assessment_id, cadre_id=s.cadre_id, placement_id=s.placement_id,
        host_unit=s.host_unit, year=s.year, kind=s.kind, final_grade=command.final_grade,
        proposed_grade=proposed, composite=composite, policy_version=s.policy.version, reason=reason,
    )]
    events += [
        ev.WarningRaised(s.assessment_id, s.cadre_id, w.rule, w.share, w.threshold, s.policy.version)
        for w in scoring.warnings(by_group, s.policy)
    ]
    return Decision(events, policy_version=s.policy.version)


def decide_reopen_assessment(state: Assessment | None, command: ReopenAssessment, ctx: Context) -> Decision:
    """Reopen on appeal by the cadre's sending unit or the organisation department."""
    if state is None:
        raise NotFoundError("assessment_not_found", f"no assessment {command.assessment_id}")
    require_role(ctx, "sending_unit", "organisation_department")
    if ctx.actor.role == "sending_unit":
        require_own_unit(ctx, state.home_unit)
    if state.status != FINALISED or state.final_grade is None:
        raise StepOrderError("assessment_not_finalised", f"assessment {state.assessment_id} is not finalised")
    reason = require_reason(ctx, "reopen an assessment")
    event = ev.AssessmentReopened(state.assessment_id, state.cadre_id, ctx.actor.role, state.final_grade, reason)
    return Decision([event])
