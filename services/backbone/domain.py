"""Pure building blocks every service's domain uses: who acts, what an event is, how a rule refuses.

Nothing here imports nameko, psycopg or marshmallow, so a domain module stays a plain function of
(state, command, context) -> events.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Protocol, TypeVar

ROLES = (
    "sending_unit",
    "organisation_department",
    "party_committee",
    "host_unit",
    "third_party_agency",
    "auditor",
    "integration",
    "operator",
)


@dataclass(frozen=True)
class Actor:
    """The authenticated principal a command comes from; stamped on every event it causes."""

    principal: str
    role: str
    unit: str | None = None


@dataclass(frozen=True)
class Context:
    """What a decision may depend on besides state and command: who, when, why."""

    actor: Actor
    now: datetime
    reason: str | None = None


@dataclass(frozen=True)
class Event:
    """Base of every domain event. Subclasses set TYPE, a stable name such as 'selection.CadreRegistered'."""

    TYPE: ClassVar[str] = ""

    def payload(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Decision:
    """Events a command produced, plus the policy version that judged them (if a rule decided)."""

    events: list[Event] = field(default_factory=list)
    policy_version: str | None = None


class DomainError(Exception):
    """A command refused by a rule. `rule` is a stable code; the message says why, in words."""

    status = 422
    title = "Rule violated"

    def __init__(self, rule: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.details = details


class ForbiddenError(DomainError):
    """The actor's role or unit may not take this step."""

    status = 403
    title = "Not allowed for this role"


class NotFoundError(DomainError):
    """The command names something that does not exist."""

    status = 404
    title = "Not found"


class StepOrderError(DomainError):
    """The step is valid in general but not in the aggregate's current state."""

    status = 409
    title = "Step out of order"


# --- dates of what has happened ------------------------------------------------------------------
# The code knows no county time zone, so "today" is the UTC date of the command's time, with one day
# of tolerance: the county's day (UTC+8) runs up to a day ahead of UTC's, and its today must pass.
TOLERANCE = timedelta(days=1)


def latest_past_day(now: datetime) -> date:
    """The latest date that may already have happened at `now` (the UTC date plus the tolerance)."""
    utc = now.astimezone(UTC) if now.tzinfo is not None else now
    return utc.date() + TOLERANCE


def require_not_in_future(day: date, what: str, rule: str, ctx: Context) -> None:
    """Refuse with `rule` when `day`, the date `what` happened, is later than the latest past day."""
    latest = latest_past_day(ctx.now)
    if day > latest:
        raise DomainError(
            rule,
            f"date rule: {what} dated {day} is in the future; on {latest - TOLERANCE} (UTC) "
            f"the latest date it may carry is {latest}",
            date=day.isoformat(),
            latest=latest.isoformat(),
        )


class Dated(Protocol):
    @property
    def effective_from(self) -> date: ...


P = TypeVar("P", bound=Dated)


def in_force(policies: Iterable[P], on: date) -> P | None:
    """Of the versions of a policy in adoption order, the one in force on `on`: the latest `effective_from` not
    after it; of two from the same day, the later adopted. None when none is yet in force."""
    candidates = [(p.effective_from, i, p) for i, p in enumerate(policies) if p.effective_from <= on]
    return max(candidates, key=lambda c: c[:2])[2] if candidates else None
