"""Commands that move a planned placement through its life: start, extend, complete, recall."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from services.backbone.domain import Context, Decision, DomainError, StepOrderError
from services.posting.domain import events as ev
from services.posting.domain.dates import require_not_in_future, utc_today
from services.posting.domain.placement import Placement
from services.posting.domain.rules import (
    require_department_or_own_host_unit,
    require_organisation_department,
    require_placement,
    require_running,
    require_text,
)
from services.posting.domain.terms import DEFAULT_POLICY, TermPolicy, policy_in_force
from services.posting.domain.vocabulary import OUTCOMES, add_months


@dataclass(frozen=True)
class StartPlacement:
    placement_id: str
    started_on: date | None = None


@dataclass(frozen=True)
class ExtendPlacement:
    placement_id: str
    extra_months: int
    reason: str
    decided_on: date | None = None  # None: today


@dataclass(frozen=True)
class CompletePlacement:
    placement_id: str
    outcome: str
    completed_on: date


@dataclass(frozen=True)
class RecallPlacement:
    placement_id: str
    reason: str
    recalled_on: date


def decide_start_placement(
    state: Placement | None, command: StartPlacement, ctx: Context, *, decided_on: date | None = None
) -> Decision:
    """PlacementStarted once all three parties signed the current agreement version, not before
    `decided_on`, the day the party committee approved the nomination (None: not known)."""
    s = require_placement(state, command.placement_id)
    require_department_or_own_host_unit(s, ctx, "start a placement")
    if s.status == "planned":
        missing = (
            ", ".join(s.missing_signatures) if s.agreement else "no agreement drafted"
        )
        raise StepOrderError(
            "agreement_not_fully_signed",
            f"placement {s.placement_id} cannot start before the organisation department, "
            f"sending unit and host unit all sign; missing: {missing}",
        )
    if s.status != "agreement_signed":
        raise StepOrderError(
            "placement_already_started",
            f"placement {s.placement_id} is already {s.status}",
        )
    started_on = command.started_on or s.start_date
    what = "the start" if command.started_on else "the start (taken from the planned start date)"
    require_not_in_future(started_on, what, "start_in_future", ctx)
    if decided_on is not None and started_on < decided_on:
        raise DomainError(
            "start_before_decision",
            f"placement {s.placement_id} cannot start on {started_on}, before the party committee approved "
            f"nomination {s.nomination_id} on {decided_on}",
            field="started_on",
            decided_on=decided_on.isoformat(),
        )
    ends_on = add_months(started_on, s.term_months)
    return Decision([ev.PlacementStarted(s.placement_id, started_on, ends_on)])


def decide_extend_placement(
    state: Placement | None,
    command: ExtendPlacement,
    ctx: Context,
    *,
    policies: Sequence[TermPolicy] = (DEFAULT_POLICY,),
) -> Decision:
    """PlacementExtended, decided while the term runs and keeping the whole term within the max_term_months of
    the term policy in force on the day decided (its version stamped)."""
    s = require_placement(state, command.placement_id)
    require_organisation_department(ctx, "extend a placement")
    require_running(s, "extend")
    decided_on = _extension_day(s, command, ctx)
    if command.extra_months <= 0:
        raise DomainError(
            "extension_months_invalid",
            f"an extension adds a positive number of months; got {command.extra_months}",
        )
    require_text(command.reason, "reason")
    total = s.term_months + command.extra_months
    policy = policy_in_force(policies, decided_on)
    if total > policy.max_term_months:
        raise DomainError(
            "term_exceeds_maximum",
            f"term rule (term policy {policy.version}): {s.term_months} + {command.extra_months} = {total} months "
            f"exceeds the maximum of {policy.max_term_months}",
            field="extra_months",
            policy_version=policy.version,
            max_term_months=policy.max_term_months,
        )
    ends_on = add_months(s.started_on or s.start_date, total)
    return Decision(
        [
            ev.PlacementExtended(
                s.placement_id, command.extra_months, total, ends_on, command.reason, decided_on
            )
        ],
        policy_version=policy.version,
    )


def _extension_day(s: Placement, command: ExtendPlacement, ctx: Context) -> date:
    """The day the extension was decided (today unless given): not in the future, and within the term, since
    an extension lengthens a term that is still running; a term that has ended is completed instead."""
    day = command.decided_on or utc_today(ctx.now)
    what = f"an extension decided on {day}" if command.decided_on else f"an extension decided today ({day}, UTC)"
    require_not_in_future(day, "an extension", "extension_in_future", ctx)
    if s.started_on is not None and day < s.started_on:
        raise DomainError(
            "extension_before_start",
            f"{what} is before placement {s.placement_id} started on {s.started_on}",
            field="decided_on",
            started_on=s.started_on.isoformat(),
        )
    if s.ends_on is not None and day > s.ends_on:
        raise StepOrderError(
            "extension_after_term_end",
            f"the term of placement {s.placement_id} ended on {s.ends_on}, so {what} comes too late: a term "
            "is extended while it runs. If the extension was decided by then, send that day as decided_on; "
            "if not, complete the placement with its outcome (a further secondment needs a new nomination)",
            field="decided_on",
            ends_on=s.ends_on.isoformat(),
        )
    return day


def decide_complete_placement(
    state: Placement | None, command: CompletePlacement, ctx: Context
) -> Decision:
    """PlacementCompleted with an outcome, once the term has been served."""
    s = require_placement(state, command.placement_id)
    require_organisation_department(ctx, "complete a placement")
    require_running(s, "complete")
    if command.outcome not in OUTCOMES:
        raise DomainError(
            "unknown_outcome",
            f"unknown outcome {command.outcome!r}; allowed: {', '.join(OUTCOMES)}",
        )
    if s.ends_on is not None and command.completed_on < s.ends_on:
        raise StepOrderError(
            "term_not_served",
            f"placement {s.placement_id} runs until {s.ends_on}; completing on "
            f"{command.completed_on} is early (recall it with a reason instead)",
        )
    require_not_in_future(command.completed_on, "the completion", "completion_in_future", ctx)
    return Decision(
        [ev.PlacementCompleted(s.placement_id, command.outcome, command.completed_on)]
    )


def decide_recall_placement(
    state: Placement | None, command: RecallPlacement, ctx: Context
) -> Decision:
    """PlacementRecalled: the organisation department ends a running placement early."""
    s = require_placement(state, command.placement_id)
    require_organisation_department(ctx, "recall a placement")
    require_running(s, "recall")
    if not command.reason.strip():
        raise DomainError("recall_reason_required", "an early recall needs a reason")
    if s.started_on is not None and command.recalled_on < s.started_on:
        raise DomainError(
            "recall_before_start",
            f"recall on {command.recalled_on} is before the placement started on {s.started_on}",
        )
    if s.ends_on is not None and command.recalled_on > s.ends_on:
        raise DomainError(
            "recall_after_term_end",
            f"recall on {command.recalled_on} is after the placement's term ended on {s.ends_on}: the term was "
            "served, so it is not recalled early but completed with its outcome",
            field="recalled_on",
            ends_on=s.ends_on.isoformat(),
        )
    require_not_in_future(command.recalled_on, "a recall", "recall_in_future", ctx)
    return Decision(
        [ev.PlacementRecalled(s.placement_id, command.reason, command.recalled_on)]
    )
