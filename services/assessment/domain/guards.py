"""Small checks every decision shares: who may act, what must be given, what range a number has."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NoReturn

from services.backbone.domain import Context, DomainError, ForbiddenError

WEIGHT_TOLERANCE = 1e-9


def require_role(ctx: Context, *roles: str) -> None:
    """Refuse unless the actor holds one of `roles`."""
    if ctx.actor.role not in roles:
        raise ForbiddenError(
            "role_not_allowed",
            f"role {ctx.actor.role} may not take this step; allowed: {', '.join(roles)}",
            role=ctx.actor.role, allowed=list(roles),
        )


def require_own_unit(ctx: Context, unit: str) -> None:
    """Refuse unless the actor acts for `unit` (a host unit assesses only its own cadres)."""
    if ctx.actor.unit != unit:
        raise ForbiddenError(
            "not_own_unit",
            f"unit {ctx.actor.unit} may not act for unit {unit}",
            actor_unit=ctx.actor.unit, unit=unit,
        )


def require_reason(ctx: Context, step: str) -> str:
    """Return the context's reason, refusing `step` when none was given."""
    if not ctx.reason or not ctx.reason.strip():
        raise DomainError("reason_required", f"a reason is required to {step}", step=step)
    return ctx.reason


def require_text(text: str, field: str) -> None:
    if not text.strip():
        raise DomainError("text_required", f"{field} must not be empty", field=field)


def require_score(score: float, field: str) -> None:
    """Refuse a score outside 0–100."""
    if not 0 <= score <= 100:
        raise DomainError(
            "score_out_of_range", f"{field} must be between 0 and 100, got {score}",
            field=field, score=score,
        )


def require_member(code: str, allowed: Iterable[str], rule: str, what: str) -> None:
    allowed = tuple(allowed)
    if code not in allowed:
        raise DomainError(rule, f"unknown {what} {code!r}; expected one of {', '.join(allowed)}",
                          value=code, allowed=list(allowed))



class SettingsRules:
    """The checks that a set of rules (a policy, a campaign's settings) shares, each refusal coded `<field>_<rule>`
    with `field` and a message opening with `what` ("assessment policy rule", "campaign settings rule")."""

    def __init__(self, what: str) -> None:
        self.what = what

    def refuse(self, field: str, rule: str, message: str) -> NoReturn:
        raise DomainError(f"{field}_{rule}", f"{self.what}: {field}: {message}", field=field)

    def weight_pair(self, pair: Mapping[str, float]) -> None:
        """Two weights, each 0 or more, adding up to 1; a wrong sum is the first one's field."""
        for name, weight in pair.items():
            if weight < 0:
                self.refuse(name, "negative", f"a weight is 0 or more; got {weight}")
        if abs(sum(pair.values()) - 1) > WEIGHT_TOLERANCE:
            self.refuse(next(iter(pair)), "sum_not_one", f"{' + '.join(pair)} must be 1; got {dict(pair)}")

    def weights(self, name: str, weights: Mapping[str, float]) -> None:
        """A field of weights, each 0 or more, adding up to 1."""
        if any(w < 0 for w in weights.values()):
            self.refuse(name, "negative", f"every weight is 0 or more; got {dict(weights)}")
        if abs(sum(weights.values()) - 1) > WEIGHT_TOLERANCE:
            self.refuse(name, "sum_not_one", f"the weights must add up to 1; got {dict(weights)}")
