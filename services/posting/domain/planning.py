"""Planning a placement: only an approved, not yet placed nomination, at an allowed level and term."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from services.backbone.domain import (
    Context,
    Decision,
    DomainError,
    NotFoundError,
    StepOrderError,
)
from services.posting.domain import events as ev
from services.posting.domain.dates import utc_today
from services.posting.domain.nomination import ApprovedNomination, NominationPlaced
from services.posting.domain.placement import Placement
from services.posting.domain.rules import (
    check_posting_level,
    check_term,
    require_organisation_department,
)
from services.posting.domain.terms import DEFAULT_POLICY, TermPolicy, policy_in_force
from services.posting.domain.vocabulary import CLOSED_STATUSES, PLACEMENT_TYPES


@dataclass(frozen=True)
class PlanPlacement:
    """Place an approved nomination; unset post fields are taken from the nomination."""

    placement_id: str
    nomination_id: str
    term_months: int
    start_date: date
    placement_type: str | None = None
    host_unit: str | None = None
    host_post: str | None = None
    post_level: str | None = None
    posting_mode: str | None = None


def decide_plan_placement(
    state: Placement | None,
    command: PlanPlacement,
    ctx: Context,
    nomination: ApprovedNomination | None,
    *,
    policies: Sequence[TermPolicy] = (DEFAULT_POLICY,),
    cadre_placements: Iterable[Placement] = (),
) -> Decision:
    """PlacementPlanned (placement stream) + NominationPlaced (nomination stream), or refuse.

    The term is one the term policy in force on the day the plan is made (UTC) allows; its version is stamped.
    `cadre_placements` are the cadre's other placements; one not yet completed or recalled refuses a new one.
    """
    require_organisation_department(ctx, "plan a placement")
    if state is not None:
        raise StepOrderError(
            "placement_already_exists",
            f"placement {command.placement_id} already exists",
        )
    if nomination is None:
        raise NotFoundError(
            "nomination_not_approved",
            f"nomination {command.nomination_id} has no party-committee approval on record",
        )
    if nomination.placement_id is not None:
        raise StepOrderError(
            "nomination_already_placed",
            f"nomination {nomination.nomination_id} is already placed as {nomination.placement_id}",
        )
    if command.host_unit is not None and command.host_unit != nomination.host_unit:
        # The party committee approved the secondment to one host unit; placing it elsewhere would bypass that
        # approval (and give the other unit the cadre's records while selection still names the first).
        raise DomainError(
            "host_unit_not_approved",
            f"host_unit: nomination {nomination.nomination_id} was approved for host unit {nomination.host_unit}, "
            f"not {command.host_unit}; a placement elsewhere needs a nomination to that unit, inspected and approved",
            approved_host_unit=nomination.host_unit,
        )
    _require_no_placement_under_way(nomination, cadre_placements)
    if nomination.decided_on is not None and command.start_date < nomination.decided_on:
        raise DomainError(
            "start_before_decision",
            f"a placement of nomination {nomination.nomination_id} cannot start on {command.start_date}, before the "
            f"party committee approved it on {nomination.decided_on}",
            decided_on=nomination.decided_on.isoformat(),
        )
    planned = _placement_planned(command, nomination)
    if planned.placement_type not in PLACEMENT_TYPES:
        raise DomainError(
            "unknown_placement_type",
            f"unknown placement type {planned.placement_type!r}; "
            f"allowed: {', '.join(PLACEMENT_TYPES)}",
        )
    check_posting_level(planned.cadre_rank, planned.post_level, planned.posting_mode)
    policy = policy_in_force(policies, utc_today(ctx.now))
    check_term(planned.term_months, policy)
    return Decision(
        [planned, NominationPlaced(nomination.nomination_id, command.placement_id)],
        policy_version=policy.version,
    )


def _require_no_placement_under_way(nomination: ApprovedNomination, others: Iterable[Placement]) -> None:
    # A cadre serves one secondment at a time: a later approval is placed once the earlier placement has ended.
    for other in others:
        if other.cadre_id == nomination.cadre_id and other.status not in CLOSED_STATUSES:
            raise StepOrderError(
                "cadre_already_placed",
                f"one placement at a time rule: cadre {nomination.cadre_id} already has placement "
                f"{other.placement_id} in status {other.status}; it must be completed or recalled first",
                placement_id=other.placement_id,
            )


def _placement_planned(c: PlanPlacement, n: ApprovedNomination) -> ev.PlacementPlanned:
    return ev.PlacementPlanned(
        placement_id=c.placement_id,
        nomination_id=n.nomination_id,
        cadre_id=n.cadre_id,
        cadre_rank=n.cadre_rank,
        placement_type=c.placement_type or n.placement_type,
        home_unit=n.home_unit,
        host_unit=c.host_unit or n.host_unit,
        host_post=c.host_post or n.host_post,
        post_level=c.post_level or n.post_level,
        posting_mode=c.posting_mode or n.posting_mode,
        term_months=c.term_months,
        start_date=c.start_date,
    )
