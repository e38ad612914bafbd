"""The overdue check-in alert: raised once per silence, cleared by the next check-in."""

from __future__ import annotations

from datetime import datetime

from services.backbone.domain import Decision
from services.posting.domain import supervision_events as sv
from services.posting.domain.placement import Placement
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
    # Check-ins are due within the term only (one after its end is refused), so silence stops counting there.
    until = min(now.date(), state.ends_on) if state.ends_on is not None else now.date()
    days = (until - last_seen).days
    if days <= max_days:
        return Decision()
    return Decision(
        [sv.CheckInOverdue(state.placement_id, last_seen, days, max_days, now.date())]
    )
