"""The tripartite responsibility agreement: drafted, amended, and signed by all three parties."""

from __future__ import annotations

from dataclasses import dataclass

from services.backbone.domain import Context, Decision, DomainError, StepOrderError
from services.posting.domain import events as ev
from services.posting.domain.placement import Agreement, Placement
from services.posting.domain.rules import (
    agreement_party_of,
    require_organisation_department,
    require_placement,
)
from services.posting.domain.vocabulary import CLOSED_STATUSES

TERM_PARTS = (
    "tasks",
    "term_goals",
    "post_requirements",
    "reward_conditions",
    "penalty_conditions",
)


@dataclass(frozen=True)
class DraftAgreement:
    placement_id: str
    tasks: tuple[str, ...]
    term_goals: tuple[str, ...]
    post_requirements: tuple[str, ...]
    reward_conditions: tuple[str, ...]
    penalty_conditions: tuple[str, ...]


@dataclass(frozen=True)
class AmendAgreement:
    placement_id: str
    tasks: tuple[str, ...]
    term_goals: tuple[str, ...]
    post_requirements: tuple[str, ...]
    reward_conditions: tuple[str, ...]
    penalty_conditions: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class SignAgreement:
    placement_id: str
    version: int


def decide_draft_agreement(
    state: Placement | None, command: DraftAgreement, ctx: Context
) -> Decision:
    """AgreementDrafted, version 1, by the organisation department."""
    s = require_placement(state, command.placement_id)
    require_organisation_department(ctx, "draft a responsibility agreement")
    if s.agreement is not None:
        raise StepOrderError(
            "agreement_already_drafted",
            f"placement {s.placement_id} already has agreement version "
            f"{s.agreement.version}; amend it instead",
        )
    return Decision([ev.AgreementDrafted(s.placement_id, 1, **_terms(command))])


def decide_amend_agreement(
    state: Placement | None, command: AmendAgreement, ctx: Context
) -> Decision:
    """AgreementAmended: a new version that all three parties must sign again."""
    s = require_placement(state, command.placement_id)
    require_organisation_department(ctx, "amend a responsibility agreement")
    current = _open_agreement(s)
    if not command.reason.strip():
        raise DomainError("amendment_reason_required", "an amendment needs a reason")
    return Decision(
        [
            ev.AgreementAmended(
                s.placement_id,
                current.version + 1,
                **_terms(command),
                reason=command.reason,
            )
        ]
    )


def decide_sign_agreement(
    state: Placement | None, command: SignAgreement, ctx: Context
) -> Decision:
    """AgreementSigned for the actor's party, once per party and version."""
    s = require_placement(state, command.placement_id)
    party = agreement_party_of(s, ctx)
    current = _open_agreement(s)
    if command.version != current.version:
        raise StepOrderError(
            "agreement_version_stale",
            f"signing version {command.version}, but the current agreement of "
            f"{s.placement_id} is version {current.version}",
        )
    if party in s.signatures:
        raise StepOrderError(
            "agreement_already_signed",
            f"{party} already signed version {current.version} of {s.placement_id}",
        )
    return Decision(
        [
            ev.AgreementSigned(
                s.placement_id, current.version, party, ctx.actor.principal
            )
        ]
    )


def _open_agreement(s: Placement) -> Agreement:
    if s.status in CLOSED_STATUSES:
        raise StepOrderError(
            "placement_closed",
            f"placement {s.placement_id} is {s.status}; its agreement is final",
        )
    if s.agreement is None:
        raise StepOrderError(
            "agreement_missing",
            f"placement {s.placement_id} has no agreement drafted yet",
        )
    return s.agreement


def _terms(command: DraftAgreement | AmendAgreement) -> dict[str, list[str]]:
    terms = {
        part: [t for t in getattr(command, part) if t.strip()] for part in TERM_PARTS
    }
    missing = [part for part, items in terms.items() if not items]
    if missing:
        raise DomainError(
            "agreement_incomplete",
            f"a responsibility agreement sets tasks, term goals, post requirements and "
            f"reward and penalty conditions; missing: {', '.join(missing)}",
        )
    return terms
