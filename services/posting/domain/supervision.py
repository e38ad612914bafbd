"""Tracking supervision (Gate 3) of a running placement: check-ins, attendance, discipline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.backbone.domain import Context, Decision, DomainError, Event
from services.posting.domain import supervision_events as sv
from services.posting.domain.compliance import ends_silence
from services.posting.domain.dates import require_not_in_future, require_within_term
from services.posting.domain.placement import Placement
from services.posting.domain.rules import (
    require_department_or_own_host_unit,
    require_own_host_unit,
    require_placement,
    require_running,
    require_text,
)
from services.posting.domain.vocabulary import ATTENDANCE_KINDS

# Supervision covers the secondment: what it records happened between the start and the term's end.
CHECK_IN_TERM_RULES = ("check_in_before_start", "check_in_after_term_end")
ATTENDANCE_TERM_RULES = ("attendance_before_start", "attendance_after_term_end")
INCIDENT_TERM_RULES = ("incident_before_start", "incident_after_term_end")


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
    """CheckInRecorded by the placement's own host unit; also clears an open overdue alert when, by its date,
    it ends the silence (a check-in recorded late for an earlier day fills that day's gap, not today's)."""
    s = require_placement(state, command.placement_id)
    require_own_host_unit(s, ctx, "record a check-in")
    require_running(s, "record a check-in")
    day = command.checked_on
    require_within_term(s, day, day, "check-in", CHECK_IN_TERM_RULES)
    require_not_in_future(day, "a check-in", "check_in_in_future", ctx)
    if not (command.thinking.strip() and command.work.strip()):
        raise DomainError(
            "check_in_incomplete",
            "a check-in records both the thinking and the work situation",
        )
    require_text(command.met_by, "met_by")
    c = command
    events: list[Event] = [
        sv.CheckInRecorded(
            s.placement_id, c.checked_on, c.thinking, c.work, c.met_by, c.notes
        )
    ]
    if s.overdue_alert_open and ends_silence(s, c.checked_on, ctx.now):
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
    require_within_term(s, command.from_date, command.to_date, "attendance", ATTENDANCE_TERM_RULES)
    require_not_in_future(command.to_date, "an attendance period", "attendance_in_future", ctx)
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
    day = command.occurred_on
    require_within_term(s, day, day, "discipline incident", INCIDENT_TERM_RULES)
    require_not_in_future(day, "a discipline incident", "incident_in_future", ctx)
    require_text(command.description, "description")
    return Decision(
        [
            sv.DisciplineIncidentRecorded(
                s.placement_id, command.occurred_on, command.description
            )
        ]
    )
