"""Tracking supervision (Gate 3) of a running placement: check-ins, attendance, discipline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.backbone.domain import Context, Decision, DomainError, Event
from services.posting.domain import supervision_events as sv
from services.posting.domain.placement import Placement
from services.posting.domain.rules import (
    require_department_or_own_host_unit,
    require_own_host_unit,
    require_placement,
    require_running,
)
from services.posting.domain.vocabulary import ATTENDANCE_KINDS


@dataclass(frozen=True)
class RecordCheckIn:
    placement_id: str
    checked_on: date
    thinking: str
    work: str
    met_by: str
    notes: str = ""


@dataclass(frozen=True)
class ReportAttendance:
    placement_id: str
    kind: str
    from_date: date
    to_date: date
    notes: str = ""


@dataclass(frozen=True)
class RecordDisciplineIncident:
    placement_id: str
    occurred_on: date
    description: str


def decide_record_check_in(
    state: Placement | None, command: RecordCheckIn, ctx: Context
) -> Decision:
    """CheckInRecorded by the placement's own host unit; also clears an open overdue alert."""
    s = require_placement(state, command.placement_id)
    require_own_host_unit(s, ctx, "record a check-in")
    require_running(s, "record a check-in")
    if s.started_on is not None and command.checked_on < s.started_on:
        raise DomainError(
            "check_in_before_start",
            f"check-in on {command.checked_on} is before the placement started on {s.started_on}",
        )
    if not (command.thinking.strip() and command.work.strip()):
        raise DomainError(
            "check_in_incomplete",
            "a check-in records both the thinking and the work situation",
        )
    c = command
    events: list[Event] = [
        sv.CheckInRecorded(
            s.placement_id, c.checked_on, c.thinking, c.work, c.met_by, c.notes
        )
    ]
    if s.overdue_alert_open:
        events.append(sv.CheckInOverdueCleared(s.placement_id, c.checked_on))
    return Decision(events)


def decide_report_attendance(
    state: Placement | None, command: ReportAttendance, ctx: Context
) -> Decision:
    """AttendanceReported (attendance or leave) by the placement's own host unit."""
    s = require_placement(state, command.placement_id)
    require_own_host_unit(s, ctx, "report attendance")
    require_running(s, "report attendance")
    if command.kind not in ATTENDANCE_KINDS:
        raise DomainError(
            "unknown_attendance_kind",
            f"unknown attendance kind {command.kind!r}; allowed: {', '.join(ATTENDANCE_KINDS)}",
        )
    days = (command.to_date - command.from_date).days + 1
    if days < 1:
        raise DomainError(
            "attendance_period_invalid",
            f"period {command.from_date} to {command.to_date} ends before it starts",
        )
    c = command
    return Decision(
        [
            sv.AttendanceReported(
                s.placement_id, c.kind, c.from_date, c.to_date, days, c.notes
            )
        ]
    )


def decide_record_discipline_incident(
    state: Placement | None, command: RecordDisciplineIncident, ctx: Context
) -> Decision:
    """DisciplineIncidentRecorded by the organisation department or the own host unit."""
    s = require_placement(state, command.placement_id)
    require_department_or_own_host_unit(s, ctx, "record a discipline incident")
    require_running(s, "record a discipline incident")
    return Decision(
        [
            sv.DisciplineIncidentRecorded(
                s.placement_id, command.occurred_on, command.description
            )
        ]
    )
