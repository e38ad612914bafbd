"""Safeguards (Gate 4) on a running placement: training received, rewards and penalties decided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.backbone.domain import Context, Decision, DomainError
from services.posting.domain import supervision_events as sv
from services.posting.domain.dates import require_not_in_future
from services.posting.domain.placement import Placement
from services.posting.domain.rules import (
    require_department_or_own_host_unit,
    require_organisation_department,
    require_placement,
    require_running,
    require_text,
)


@dataclass(frozen=True)
class RecordTraining:
    placement_id: str
    course: str
    provider: str
    hours: int
    completed_on: date


@dataclass(frozen=True)
class DecideReward:
    placement_id: str
    description: str
    basis: str
    decided_on: date


@dataclass(frozen=True)
class DecidePenalty:
    placement_id: str
    description: str
    basis: str
    decided_on: date


def decide_record_training(
    state: Placement | None, command: RecordTraining, ctx: Context
) -> Decision:
    """TrainingRecorded (Gate 4) by the organisation department or the own host unit."""
    s = require_placement(state, command.placement_id)
    require_department_or_own_host_unit(s, ctx, "record training")
    require_running(s, "record training")
    if command.hours <= 0:
        raise DomainError(
            "training_hours_invalid",
            f"training lasts a positive number of hours; got {command.hours}",
        )
    require_text(command.course, "course")
    require_text(command.provider, "provider")
    # Not bounded by the start: the domain sets no time for Gate 4's targeted training, and
    # pre-departure training (岗前培训) comes before the start. But training of the secondment ends with it.
    require_not_in_future(command.completed_on, "a completed training", "training_in_future", ctx)
    if s.ends_on is not None and command.completed_on > s.ends_on:
        raise DomainError(
            "training_after_term_end",
            f"a training completed on {command.completed_on} is after the placement's term ended on {s.ends_on}; "
            "an extension moves the end of the term",
            ends_on=s.ends_on.isoformat(),
        )
    c = command
    return Decision(
        [
            sv.TrainingRecorded(
                s.placement_id, c.course, c.provider, c.hours, c.completed_on
            )
        ]
    )


def decide_reward(
    state: Placement | None, command: DecideReward, ctx: Context
) -> Decision:
    """RewardDecided by the organisation department."""
    s = require_placement(state, command.placement_id)
    require_organisation_department(ctx, "decide a reward")
    require_running(s, "decide a reward")
    require_not_in_future(command.decided_on, "a reward decision", "reward_in_future", ctx)
    _require_not_before_start(s, command.decided_on, "reward")
    require_text(command.description, "description")
    require_text(command.basis, "basis")
    c = command
    return Decision(
        [sv.RewardDecided(s.placement_id, c.description, c.basis, c.decided_on)]
    )


def decide_penalty(
    state: Placement | None, command: DecidePenalty, ctx: Context
) -> Decision:
    """PenaltyDecided by the organisation department."""
    s = require_placement(state, command.placement_id)
    require_organisation_department(ctx, "decide a penalty")
    require_running(s, "decide a penalty")
    require_not_in_future(command.decided_on, "a penalty decision", "penalty_in_future", ctx)
    _require_not_before_start(s, command.decided_on, "penalty")
    require_text(command.description, "description")
    require_text(command.basis, "basis")
    c = command
    return Decision(
        [sv.PenaltyDecided(s.placement_id, c.description, c.basis, c.decided_on)]
    )


def _require_not_before_start(s: Placement, decided_on: date, kind: str) -> None:
    # A reward or penalty rests on the secondment's work (its assessment, its discipline): none before it began.
    if s.started_on is not None and decided_on < s.started_on:
        raise DomainError(
            f"{kind}_before_start",
            f"a {kind} decided on {decided_on} is before placement {s.placement_id} started on {s.started_on}",
            field="decided_on",
            started_on=s.started_on.isoformat(),
        )
