"""The overdue check-in alert: raised once per silence, cleared by a check-in whose date ends the silence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from services.backbone.domain import Decision
from services.posting.domain import supervision_events as sv
from services.posting.domain.placement import Placement
from services.posting.domain.terms import TermPolicy, policy_in_force
from services.posting.domain.vocabulary import RUNNING_STATUSES


def check_overdue(state: Placement | None, now: datetime, max_days: int) -> Decision:
    """CheckInOverdue when a running placement's last check-in (or start) is more than
    max_days before `now` (or before the term's end, if that came first); nothing if the alert
    is already open or the placement is not running.
    Idempotent given the same state, so replicas racing on one stream append at most one alert
    (the event store's expected-version check refuses the second)."""
    if (
        state is None
        or state.status not in RUNNING_STATUSES
        or state.overdue_alert_open
    ):
        return Decision()
    last_seen = state.last_check_in_on or state.started_on
    if last_seen is None:
        return Decision()
    days = _silent_days(state, last_seen, now)
    if days <= max_days:
        return Decision()
    return Decision(
        [sv.CheckInOverdue(state.placement_id, last_seen, days, max_days, now.date())]
    )


def check_overdue_under(state: Placement | None, now: datetime, policies: Sequence[TermPolicy]) -> Decision:
    """check_overdue with the check-in interval of the term policy in force on `now`'s UTC date, whose version
    the alert carries."""
    policy = policy_in_force(policies, now.date())
    decision = check_overdue(state, now, policy.check_in_days)
    return Decision(decision.events, policy_version=policy.version if decision.events else None)


def ends_silence(state: Placement, checked_on: date, now: datetime) -> bool:
    """Whether a check-in dated `checked_on` ends the silence the open alert reports. Judged by the check-in's
    own date, not the day it is recorded: a late record of an old check-in fills the gap it belongs to, and
    the alert stays while the silence since the latest check-in is still longer than the alert's interval."""
    last_seen = max(filter(None, (state.last_check_in_on, checked_on)))
    return state.overdue_max_days is None or _silent_days(state, last_seen, now) <= state.overdue_max_days


def _silent_days(state: Placement, last_seen: date, now: datetime) -> int:
    # Check-ins are due within the term only (one after its end is refused), so silence stops counting there.
    until = min(now.date(), state.ends_on) if state.ends_on is not None else now.date()
    return (until - last_seen).days
