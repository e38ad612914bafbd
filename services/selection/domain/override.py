"""The organisation department's override that lets a nomination failing hard criteria go on."""

from __future__ import annotations

from dataclasses import dataclass

from services.backbone.domain import Context, Decision, DomainError, StepOrderError

from .nomination_events import EligibilityOverridden
from .nominations import Nomination
from .rules import require_role, require_text
from .steps import require_nomination, require_status


@dataclass(frozen=True)
class OverrideEligibility:
    nomination_id: str
    reason: str


def decide_override_eligibility(state: Nomination | None, command: OverrideEligibility, ctx: Context) -> Decision:
    """Let a nomination that failed hard criteria go on to inspection, with a recorded reason."""
    require_role(ctx, "override eligibility", "organisation_department")
    nomination = require_nomination(state, command.nomination_id)
    require_status(nomination, "override eligibility", "recommended")
    failed = nomination.failed_hard_criteria
    if not failed:
        raise DomainError(
            "nothing_to_override",
            f"override rule: nomination {nomination.nomination_id} failed no hard criterion "
            f"under policy {nomination.policy_version}",
        )
    if nomination.override_reason is not None:
        raise StepOrderError(
            "already_overridden",
            f"override rule: eligibility of nomination {nomination.nomination_id} was already overridden",
        )
    reason = require_text(command.reason, "reason")
    event = EligibilityOverridden(
        nomination.nomination_id,
        nomination.cadre_id,
        nomination.policy_version,
        failed,
        reason,
        ctx.actor.principal,
    )
    return Decision([event], policy_version=nomination.policy_version)
