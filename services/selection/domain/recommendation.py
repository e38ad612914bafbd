"""Step 1 of Gate 1: unit recommendation (单位推荐), with every eligibility criterion recorded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from services.backbone.domain import (
    Context,
    Decision,
    DomainError,
    ForbiddenError,
    StepOrderError,
)

from .cadres import Cadre
from .eligibility import check_eligibility
from .labels import PLACEMENT_TYPE_LABELS
from .nomination_events import NominationRecommended
from .nominations import Nomination
from .policy import EligibilityPolicy, PolicyBook
from .ranks import check_posting_level
from .register import require_cadre
from .rules import require_code, require_not_in_future, require_role, require_text


@dataclass(frozen=True)
class RecommendNomination:
    nomination_id: str
    cadre_id: str
    placement_type: str
    host_unit: str
    host_post: str
    post_level: str
    posting_mode: str
    reason: str
    recommended_on: date | None = None  # the day the unit recommended; None: today


def decide_recommend_nomination(
    state: Nomination | None,
    command: RecommendNomination,
    ctx: Context,
    *,
    cadre: Cadre | None,
    policies: PolicyBook | None,
    cadre_nominations: Iterable[Nomination] = (),
) -> Decision:
    """Recommend a cadre of the actor's own unit; records every criterion under the policy in force on the
    recommendation date (the command's `recommended_on`, a day already begun; by default today).

    `cadre_nominations` are the cadre's other nominations; an open one refuses a new recommendation.
    """
    require_role(ctx, "recommend cadres", "sending_unit")
    if state is not None:
        raise StepOrderError("nomination_exists", f"nomination {command.nomination_id} already exists")
    found = require_cadre(cadre, command.cadre_id)
    _require_home_unit(found, ctx)
    _require_no_open_nomination(found, cadre_nominations)
    _require_placement(command, found)
    on = command.recommended_on or ctx.now.date()
    require_not_in_future(on, "the recommendation", "recommended_on_in_future", ctx)
    policy = _policy_in_force(policies, on)
    event = _recommended(command, found, policy, on, ctx.actor.principal)
    return Decision([event], policy_version=policy.version)


def _recommended(
    command: RecommendNomination,
    cadre: Cadre,
    policy: EligibilityPolicy,
    on: date,
    by: str,
) -> NominationRecommended:
    criteria = check_eligibility(cadre, policy, on)
    return NominationRecommended(
        nomination_id=command.nomination_id,
        cadre_id=cadre.cadre_id,
        sending_unit=cadre.home_unit,
        cadre_rank=cadre.rank,
        placement_type=command.placement_type,
        host_unit=command.host_unit.strip(),
        host_post=command.host_post.strip(),
        post_level=command.post_level,
        posting_mode=command.posting_mode,
        reason=command.reason.strip(),
        recommended_on=on,
        nominated_by=by,
        policy_version=policy.version,
        criteria=[c.as_dict() for c in criteria],
        eligible=all(c.passed for c in criteria if c.hard),
    )


def _require_home_unit(cadre: Cadre, ctx: Context) -> None:
    if ctx.actor.unit != cadre.home_unit:
        raise ForbiddenError(
            "not_home_unit",
            f"sending unit rule: only the cadre's home unit {cadre.home_unit} may recommend "
            f"cadre {cadre.cadre_id}; the actor belongs to {ctx.actor.unit or 'no unit'}",
        )


def _require_no_open_nomination(cadre: Cadre, nominations: Iterable[Nomination]) -> None:
    for other in nominations:
        if other.cadre_id == cadre.cadre_id and other.is_open:
            raise StepOrderError(
                "open_nomination_exists",
                f"one open nomination rule: cadre {cadre.cadre_id} already has nomination "
                f"{other.nomination_id} in status {other.status}",
                nomination_id=other.nomination_id,
            )


def _require_placement(command: RecommendNomination, cadre: Cadre) -> None:
    require_text(command.nomination_id, "nomination_id")
    require_code(
        command.placement_type,
        PLACEMENT_TYPE_LABELS,
        "unknown_placement_type",
        "placement type",
    )
    require_text(command.host_unit, "host_unit")
    require_text(command.host_post, "host_post")
    require_text(command.reason, "reason")
    check_posting_level(cadre.rank, command.post_level, command.posting_mode)


def _policy_in_force(policies: PolicyBook | None, on: date) -> EligibilityPolicy:
    policy = policies.in_force(on) if policies else None
    if policy is None:
        raise DomainError(
            "no_policy_in_force",
            f"policy rule: no eligibility policy is in force on {on}; adopt one first",
        )
    return policy
