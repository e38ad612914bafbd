"""Steps 2 and 3 of Gate 1, inspection (组织考察) and party-committee approval (党委审定), and withdrawal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.backbone.domain import (
    Context,
    Decision,
    DomainError,
    ForbiddenError,
    NotFoundError,
    StepOrderError,
    latest_past_day,
)

from .nomination_events import NominationApproved, NominationInspected, NominationRejected, NominationWithdrawn
from .nominations import OPEN_STATUSES, Nomination
from .rules import require_distinct_person, require_not_in_future, require_role, require_text


@dataclass(frozen=True)
class InspectNomination:
    nomination_id: str
    findings: str
    passed: bool


@dataclass(frozen=True)
class RecordCommitteeDecision:
    nomination_id: str
    approved: bool
    decision_ref: str
    decision_date: date
    reason: str | None = None


@dataclass(frozen=True)
class WithdrawNomination:
    nomination_id: str
    reason: str


def require_nomination(state: Nomination | None, nomination_id: str) -> Nomination:
    """Refuse with `nomination_not_found` when nothing was recommended under this id."""
    if state is None:
        raise NotFoundError("nomination_not_found", f"nomination {nomination_id} does not exist")
    return state


def require_status(nomination: Nomination, step: str, *statuses: str) -> None:
    """Refuse with `step_order` unless the nomination is in one of `statuses`."""
    if nomination.status not in statuses:
        raise StepOrderError(
            "step_order",
            f"step order rule: cannot {step} nomination {nomination.nomination_id} while it is "
            f"{nomination.status}; this step needs {' or '.join(statuses)}",
            status=nomination.status,
        )


def require_not_before_recommendation(nomination: Nomination, day: date, what: str, rule: str,
                                      field: str | None = None) -> None:
    """Refuse with `rule` when `what`, dated `day` (the request's `field`, if it has one), would come before
    the nomination's recommendation."""
    if day < nomination.recommended_on:
        named = {"field": field} if field else {}
        raise DomainError(
            rule,
            f"date rule: {what} dated {day}{f' ({field})' if field else ''} cannot precede the recommendation "
            f"of nomination {nomination.nomination_id} on {nomination.recommended_on}",
            **named,
            date=day.isoformat(),
            recommended_on=nomination.recommended_on.isoformat(),
        )


def decide_inspect_nomination(state: Nomination | None, command: InspectNomination, ctx: Context) -> Decision:
    """Record the organisation department's inspection; a failed inspection ends the nomination."""
    require_role(ctx, "inspect nominations", "organisation_department")
    nomination = require_nomination(state, command.nomination_id)
    require_status(nomination, "inspect", "recommended")
    require_distinct_person(ctx, "inspect", {"recommend": nomination.nominated_by})
    if nomination.blocked:
        raise DomainError(
            "eligibility_not_met",
            f"eligibility rule: nomination {nomination.nomination_id} failed hard criteria "
            f"{', '.join(nomination.failed_hard_criteria)} under policy {nomination.policy_version}; "
            "it cannot go to inspection unless the organisation department overrides with a reason",
            failed_criteria=nomination.failed_hard_criteria,
        )
    findings = require_text(command.findings, "findings")
    # The inspection carries no date of its own: it happens as it is recorded, at the latest on the county's today.
    require_not_before_recommendation(nomination, latest_past_day(ctx.now), "the inspection",
                                      "inspection_before_recommendation")
    event = NominationInspected(
        nomination.nomination_id,
        nomination.cadre_id,
        findings,
        command.passed,
        ctx.actor.principal,
    )
    return Decision([event])


def decide_record_committee_decision(state: Nomination | None, command: RecordCommitteeDecision, ctx: Context) -> Decision:
    """Record the party committee's approval or rejection of an inspected nomination."""
    require_role(ctx, "decide nominations", "party_committee")
    nomination = require_nomination(state, command.nomination_id)
    require_status(nomination, "decide", "inspected")
    earlier = {"recommend": nomination.nominated_by, "inspect": nomination.inspected_by}
    require_distinct_person(ctx, "decide", earlier)
    ref = require_text(command.decision_ref, "decision_ref")
    # A decision records a meeting already held, so its date cannot be ahead of today.
    require_not_in_future(command.decision_date, "the committee decision", "decision_date_in_future", ctx)
    require_not_before_recommendation(nomination, command.decision_date, "the committee decision",
                                      "decision_before_recommendation", "decision_date")
    if command.approved:
        # Approved as judged eligible under the policy it was recommended under (the inspection required it).
        approved = _approved(nomination, ref, command.decision_date, ctx.actor.principal)
        return Decision([approved], policy_version=nomination.policy_version)
    rejected = NominationRejected(
        nomination.nomination_id,
        nomination.cadre_id,
        ref,
        command.decision_date,
        ctx.actor.principal,
        command.reason,
    )
    return Decision([rejected])


def _approved(nomination: Nomination, ref: str, on: date, by: str) -> NominationApproved:
    return NominationApproved(
        nomination_id=nomination.nomination_id,
        cadre_id=nomination.cadre_id,
        sending_unit=nomination.sending_unit,
        placement_type=nomination.placement_type,
        host_unit=nomination.host_unit,
        host_post=nomination.host_post,
        post_level=nomination.post_level,
        posting_mode=nomination.posting_mode,
        decision_ref=ref,
        decision_date=on,
        decided_by=by,
        cadre_rank=nomination.cadre_rank,
    )


def decide_withdraw_nomination(state: Nomination | None, command: WithdrawNomination, ctx: Context) -> Decision:
    """Withdraw a nomination before approval: by its own sending unit or the organisation department."""
    require_role(ctx, "withdraw nominations", "sending_unit", "organisation_department")
    nomination = require_nomination(state, command.nomination_id)
    if ctx.actor.role == "sending_unit" and ctx.actor.unit != nomination.sending_unit:
        raise ForbiddenError(
            "not_home_unit",
            f"sending unit rule: only {nomination.sending_unit}, which recommended nomination "
            f"{nomination.nomination_id}, may withdraw it; the actor belongs to {ctx.actor.unit or 'no unit'}",
        )
    require_status(nomination, "withdraw", *OPEN_STATUSES)
    reason = require_text(command.reason, "reason")
    event = NominationWithdrawn(nomination.nomination_id, nomination.cadre_id, reason, ctx.actor.principal)
    return Decision([event])
