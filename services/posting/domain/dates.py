"""Date rules of a placement: what is recorded as having happened is not in the future, and what
happened on the placement (check-ins, attendance, discipline) happened within its term.

These rules judge new commands only; events already in the log fold as they were recorded.
"""

from __future__ import annotations

from datetime import date, datetime

from services.backbone.domain import TOLERANCE, DomainError, latest_past_day
from services.backbone.domain import require_not_in_future as require_not_in_future  # re-exported for the domain
from services.posting.domain.placement import Placement


def utc_today(now: datetime) -> date:
    """The UTC date of `now`: the earliest date the county's today can be (it runs up to a day ahead)."""
    return latest_past_day(now) - TOLERANCE


def require_within_term(
    s: Placement, first: date, last: date, what: str, rules: tuple[str, str]
) -> None:
    """Refuse with rules[0] when `first` is before the start, rules[1] when `last` is after the term's end."""
    before_start, after_end = rules
    if s.started_on is not None and first < s.started_on:
        raise DomainError(
            before_start,
            f"{what} on {first} is before the placement started on {s.started_on}",
            started_on=s.started_on.isoformat(),
        )
    if s.ends_on is not None and last > s.ends_on:
        raise DomainError(
            after_end,
            f"{what} on {last} is after the placement's term ended on {s.ends_on}; "
            "an extension moves the end of the term",
            ends_on=s.ends_on.isoformat(),
        )
