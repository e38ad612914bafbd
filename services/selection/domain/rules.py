"""Small guards shared by the selection decide functions; each raises a DomainError with a stable rule."""

from __future__ import annotations

from collections.abc import Iterable

from services.backbone.domain import Context, DomainError, ForbiddenError
from services.backbone.domain import require_not_in_future as require_not_in_future  # re-exported


def require_role(ctx: Context, action: str, *roles: str) -> None:
    """Refuse with `role_not_allowed` unless the actor holds one of `roles`."""
    if ctx.actor.role not in roles:
        raise ForbiddenError(
            "role_not_allowed",
            f"role rule: role {ctx.actor.role} may not {action}; allowed: {', '.join(roles)}",
            role=ctx.actor.role,
            allowed=list(roles),
        )


def require_text(value: str | None, field: str) -> str:
    """Refuse with `<field>_required` when a free-text field is missing or blank."""
    if value is None or not value.strip():
        raise DomainError(f"{field}_required", f"{field} rule: a non-empty {field} is required")
    return value.strip()


def require_code(value: str, allowed: Iterable[str], rule: str, what: str) -> str:
    """Refuse with `rule` unless `value` is one of the stable codes in `allowed`."""
    codes = list(allowed)
    if value not in codes:
        raise DomainError(
            rule,
            f"{rule} rule: {what} {value!r} is not one of {', '.join(codes)}",
            value=value,
        )
    return value


def require_distinct_person(ctx: Context, step: str, earlier: dict[str, str | None]) -> None:
    """Refuse with `separation_of_duties` when the actor already took an earlier step."""
    for earlier_step, principal in earlier.items():
        if principal == ctx.actor.principal:
            raise ForbiddenError(
                "separation_of_duties",
                f"separation of duties rule: {principal} already took the {earlier_step} step "
                f"and may not also {step}; nominator, inspector and approver must differ",
                principal=principal,
            )

