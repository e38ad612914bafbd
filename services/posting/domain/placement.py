"""A placement's state, and how its events fold into it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from functools import reduce
from typing import Any

from services.backbone.domain import Event
from services.posting.domain import events as ev
from services.posting.domain import supervision_events as sv
from services.posting.domain.vocabulary import (
    AGREEMENT_PARTIES,
    OUTCOME_LABELS,
    PLACEMENT_TYPE_LABELS,
    POSTING_MODE_LABELS,
    STATUS_LABELS,
)


@dataclass(frozen=True)
class Agreement:
    """One version of the responsibility agreement (责任书)."""

    version: int
    tasks: tuple[str, ...]
    term_goals: tuple[str, ...]
    post_requirements: tuple[str, ...]
    reward_conditions: tuple[str, ...]
    penalty_conditions: tuple[str, ...]


@dataclass(frozen=True)
class Placement:
    placement_id: str
    nomination_id: str
    cadre_id: str
    cadre_rank: str
    placement_type: str
    home_unit: str
    host_unit: str
    host_post: str
    post_level: str
    posting_mode: str
    term_months: int
    start_date: date
    status: str = "planned"
    agreement: Agreement | None = None
    signatures: frozenset[str] = field(default_factory=frozenset)
    started_on: date | None = None
    ends_on: date | None = None
    last_check_in_on: date | None = None
    check_ins: int = 0
    overdue_alert_open: bool = False
    overdue_max_days: int | None = None  # the interval the open alert was raised for
    attendance_reports: int = 0
    discipline_incidents: int = 0
    trainings: int = 0
    training_hours: int = 0
    rewards: int = 0
    penalties: int = 0
    outcome: str | None = None
    recall_reason: str | None = None
    ended_on: date | None = None

    @property
    def missing_signatures(self) -> tuple[str, ...]:
        return tuple(p for p in AGREEMENT_PARTIES if p not in self.signatures)

    @property
    def agreement_fully_signed(self) -> bool:
        return self.agreement is not None and not self.missing_signatures

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def placement_type_label(self) -> str:
        return PLACEMENT_TYPE_LABELS.get(self.placement_type, self.placement_type)

    @property
    def posting_mode_label(self) -> str:
        return POSTING_MODE_LABELS.get(self.posting_mode, self.posting_mode)

    @property
    def outcome_label(self) -> str | None:
        return OUTCOME_LABELS[self.outcome] if self.outcome else None


def _agreement(s: Placement, e: ev.AgreementDrafted | ev.AgreementAmended) -> Placement:
    terms = Agreement(
        e.version,
        tuple(e.tasks),
        tuple(e.term_goals),
        tuple(e.post_requirements),
        tuple(e.reward_conditions),
        tuple(e.penalty_conditions),
    )
    # An amendment before the start sends the placement back to waiting for signatures.
    status = "planned" if s.status == "agreement_signed" else s.status
    return replace(s, agreement=terms, signatures=frozenset(), status=status)


def _signed(s: Placement, e: ev.AgreementSigned) -> Placement:
    s = replace(s, signatures=s.signatures | {e.party})
    if s.status == "planned" and s.agreement_fully_signed:
        s = replace(s, status="agreement_signed")
    return s


def _check_in(s: Placement, e: sv.CheckInRecorded) -> Placement:
    last = max(filter(None, (s.last_check_in_on, e.checked_on)))
    return replace(s, check_ins=s.check_ins + 1, last_check_in_on=last)


_HANDLERS: dict[type[Event], Callable[[Placement, Any], Placement]] = {
    ev.AgreementDrafted: _agreement,
    ev.AgreementAmended: _agreement,
    ev.AgreementSigned: _signed,
    ev.PlacementStarted: lambda s, e: replace(
        s, status="active", started_on=e.started_on, ends_on=e.ends_on
    ),
    ev.PlacementExtended: lambda s, e: replace(
        s, status="extended", term_months=e.term_months, ends_on=e.ends_on
    ),
    ev.PlacementCompleted: lambda s, e: replace(
        s, status="completed", outcome=e.outcome, ended_on=e.completed_on
    ),
    ev.PlacementRecalled: lambda s, e: replace(
        s, status="recalled", recall_reason=e.reason, ended_on=e.recalled_on
    ),
    sv.CheckInRecorded: _check_in,
    sv.CheckInOverdue: lambda s, e: replace(s, overdue_alert_open=True, overdue_max_days=e.max_days),
    sv.CheckInOverdueCleared: lambda s, e: replace(s, overdue_alert_open=False, overdue_max_days=None),
    sv.AttendanceReported: lambda s, e: replace(
        s, attendance_reports=s.attendance_reports + 1
    ),
    sv.DisciplineIncidentRecorded: lambda s, e: replace(
        s, discipline_incidents=s.discipline_incidents + 1
    ),
    sv.TrainingRecorded: lambda s, e: replace(
        s, trainings=s.trainings + 1, training_hours=s.training_hours + e.hours
    ),
    sv.RewardDecided: lambda s, e: replace(s, rewards=s.rewards + 1),
    sv.PenaltyDecided: lambda s, e: replace(s, penalties=s.penalties + 1),
}


def evolve(state: Placement | None, event: Event) -> Placement | None:
    """Apply one event; events of other aggregates leave the state as it is."""
    if isinstance(event, ev.PlacementPlanned):
        return Placement(**asdict(event))
    handler = _HANDLERS.get(type(event))
    if handler is None:
        return state
    if state is None:
        raise ValueError(f"{event.TYPE} arrived before posting.PlacementPlanned")
    return handler(state, event)


def fold(events: Iterable[Event]) -> Placement | None:
    """Replay a placement's stream, oldest first."""
    return reduce(evolve, events, None)
