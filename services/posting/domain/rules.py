"""The rules every posting command leans on: who may act, the posting-level rule, the term rule."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.backbone.domain import (
    Context,
    DomainError,
    ForbiddenError,
    NotFoundError,
    StepOrderError,
)
from services.posting.domain.placement import Placement
from services.posting.domain.vocabulary import (
    POSTING_MODES,
    RANKS,
    RUNNING_STATUSES,
)

if TYPE_CHECKING:  # terms.py leans on the role rule here
    from services.posting.domain.terms import TermPolicy

ORGANISATION_DEPARTMENT = "organisation_department"


def require_organisation_department(ctx: Context, action: str) -> None:
    if ctx.actor.role != ORGANISATION_DEPARTMENT:
        raise ForbiddenError(
            "organisation_department_only",
            f"only the organisation department may {action}; actor role is {ctx.actor.role}",
        )


def require_own_host_unit(state: Placement, ctx: Context, action: str) -> None:
    if ctx.actor.role != "host_unit":
        raise ForbiddenError(
            "host_unit_only",
            f"only the host unit may {action}; actor role is {ctx.actor.role}",
        )
    _require_unit(state.host_unit, state, ctx)


def require_department_or_own_host_unit(
    state: Placement, ctx: Context, action: str
) -> None:
    if ctx.actor.role == ORGANISATION_DEPARTMENT:
        return
    if ctx.actor.role != "host_unit":
        raise ForbiddenError(
            "organisation_department_or_host_unit_only",
            f"only the organisation department or the host unit may {action}; "
            f"actor role is {ctx.actor.role}",
        )
    _require_unit(state.host_unit, state, ctx)


def agreement_party_of(state: Placement, ctx: Context) -> str:
    """Which of the three agreement parties the actor signs for, or refuse."""
    role = ctx.actor.role
    if role == ORGANISATION_DEPARTMENT:
        return role
    if role == "sending_unit":
        _require_unit(state.home_unit, state, ctx)
        return role
    if role == "host_unit":
        _require_unit(state.host_unit, state, ctx)
        return role
    raise ForbiddenError(
        "agreement_party_only",
        f"only the organisation department, sending unit or host unit sign an agreement; "
        f"actor role is {role}",
    )


def _require_unit(unit: str, state: Placement, ctx: Context) -> None:
    if ctx.actor.unit != unit:
        raise ForbiddenError(
            "not_own_placement",
            f"placement {state.placement_id} belongs to {unit}, not to {ctx.actor.unit}",
        )


def require_placement(state: Placement | None, placement_id: str) -> Placement:
    if state is None:
        raise NotFoundError(
            "placement_not_found", f"placement {placement_id} does not exist"
        )
    return state


def require_running(state: Placement, action: str) -> None:
    if state.status not in RUNNING_STATUSES:
        raise StepOrderError(
            "placement_not_active",
            f"cannot {action}: placement {state.placement_id} is {state.status}, "
            f"not active or extended",
        )


def rank_index(rank: str) -> int:
    if rank not in RANKS:
        raise DomainError(
            "unknown_rank", f"unknown rank {rank!r}; known ranks: {', '.join(RANKS)}"
        )
    return RANKS.index(rank)


def check_posting_level(cadre_rank: str, post_level: str, posting_mode: str) -> None:
    """Refuse a post whose level does not fit the mode: below, equal, or exactly one above rank."""
    if posting_mode not in POSTING_MODES:
        raise DomainError(
            "unknown_posting_mode",
            f"unknown posting mode {posting_mode!r}; allowed: {', '.join(POSTING_MODES)}",
        )
    gap = rank_index(post_level) - rank_index(cadre_rank)
    allowed = {
        "lower_post": gap < 0,
        "same_level": gap == 0,
        "assistant_one_up": gap == 1,
    }
    if not allowed[posting_mode]:
        wanted = {
            "lower_post": "below",
            "same_level": "equal to",
            "assistant_one_up": "exactly one level above",
        }[posting_mode]
        raise DomainError(
            "posting_level_not_allowed",
            f"posting-level rule: {posting_mode} needs a post {wanted} the cadre's rank "
            f"{cadre_rank} (level {rank_index(cadre_rank)}); post level {post_level} "
            f"is level {rank_index(post_level)}",
        )


def require_text(value: str, field: str) -> None:
    """Refuse with `<field>_required` when a free-text field holds only blanks."""
    if not value.strip():
        raise DomainError(f"{field}_required", f"{field} rule: a non-blank {field} is required", field=field)


def check_term(term_months: int, policy: TermPolicy) -> None:
    """Refuse a term the policy does not list."""
    if term_months not in policy.allowed_term_months:
        raise DomainError(
            "term_not_allowed",
            f"term rule (term policy {policy.version}): a placement runs "
            f"{' or '.join(map(str, policy.allowed_term_months))} months; "
            f"got {term_months} (longer terms come only by extension)",
            field="term_months",
            policy_version=policy.version,
            allowed_term_months=list(policy.allowed_term_months),
        )
