"""Date rules of a placement: what is recorded as having happened is not in the future, and what
happened on the placement (check-ins, attendance, discipline) happened within its term.

These rules judge new commands only; events already in the log fold as they were recorded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.backbone.domain import Context, DomainError
from services.posting.domain.placement import Placement

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
