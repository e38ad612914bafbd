"""Events of tracking supervision (Gate 3) and safeguards (Gate 4) on a running placement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.backbone.domain import Event


@dataclass(frozen=True)
class CheckInRecorded(Event):
    TYPE = "posting.CheckInRecorded"
    placement_id: str
    checked_on: date
    thinking: str
    work: str
    met_by: str
    notes: str


@dataclass(frozen=True)
class CheckInOverdue(Event):
    """Compliance alert: no check-in for longer than the configured interval."""

    TYPE = "posting.CheckInOverdue"
    placement_id: str
    last_seen_on: date
    days_without_check_in: int
    max_days: int
    raised_on: date


@dataclass(frozen=True)
class CheckInOverdueCleared(Event):
    """The alert ended by a check-in whose own date (`cleared_on`) ends the silence; a late record of an older day does not."""

    TYPE = "posting.CheckInOverdueCleared"
    placement_id: str
    cleared_on: date


@dataclass(frozen=True)
class AttendanceReported(Event):
    TYPE = "posting.AttendanceReported"
    placement_id: str
    kind: str
    from_date: date
    to_date: date
    days: int
    notes: str


@dataclass(frozen=True)
class DisciplineIncidentRecorded(Event):
    TYPE = "posting.DisciplineIncidentRecorded"
    placement_id: str
    occurred_on: date
    description: str


@dataclass(frozen=True)
class TrainingRecorded(Event):
    TYPE = "posting.TrainingRecorded"
    placement_id: str
    course: str
    provider: str
    hours: int
    completed_on: date


@dataclass(frozen=True)
class RewardDecided(Event):
    TYPE = "posting.RewardDecided"
    placement_id: str
    description: str
    basis: str
    decided_on: date


@dataclass(frozen=True)
class PenaltyDecided(Event):
    TYPE = "posting.PenaltyDecided"
    placement_id: str
    description: str
    basis: str
    decided_on: date
