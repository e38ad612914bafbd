"""The nomination aggregate: recommend -> inspect -> decide, its events and how they fold into state.

Each step's principal is kept in its event because separation of duties is judged from state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from functools import reduce

from services.backbone.domain import Event

from .eligibility import CriterionResult
from .nomination_events import (
    NOMINATION_EVENTS,
    EligibilityOverridden,
    NominationApproved,
    NominationInspected,
    NominationRecommended,
    NominationRejected,
    NominationWithdrawn,
)

OPEN_STATUSES = ("recommended", "inspected")
TERMINAL_STATUSES = ("inspection_failed", "rejected", "withdrawn")
# The statuses in which the nomination's host unit is to receive the cadre, or has: it reads the cadre's record.
HOSTING_STATUSES = (*OPEN_STATUSES, "approved")


@dataclass(frozen=True)
class Nomination:
    nomination_id: str
    cadre_id: str
    sending_unit: str
    placement_type: str
    host_unit: str
    host_post: str
    post_level: str
    posting_mode: str
    policy_version: str
    criteria: tuple[CriterionResult, ...]
    nominated_by: str
    recommended_on: date
    cadre_rank: str = ""
    status: str = "recommended"
    override_reason: str | None = None
    inspected_by: str | None = None
    decided_by: str | None = None

    @property
    def is_open(self) -> bool:
        """Still on its way: neither approved nor ended."""
        return self.status in OPEN_STATUSES

    @property
    def engages_host(self) -> bool:
        """The host unit is to receive the cadre, or has (approved): not withdrawn, rejected or failed."""
        return self.status in HOSTING_STATUSES

    @property
    def failed_hard_criteria(self) -> list[str]:
        return [c.criterion for c in self.criteria if c.hard and not c.passed]

    @property
    def blocked(self) -> bool:
        """A hard criterion failed and the organisation department has not overridden it."""
        return bool(self.failed_hard_criteria) and self.override_reason is None


def evolve(state: Nomination | None, event: Event) -> Nomination | None:
    """Fold one event into the nomination; events of other types leave it unchanged."""
    if isinstance(event, NominationRecommended):
        return _recommended(event)
    if not isinstance(event, NOMINATION_EVENTS):
        return state
    if state is None:
        raise ValueError(f"{event.TYPE} cannot come before selection.NominationRecommended")
    if isinstance(event, EligibilityOverridden):
        return replace(state, override_reason=event.reason)
    if isinstance(event, NominationInspected):
        status = "inspected" if event.passed else "inspection_failed"
        return replace(state, status=status, inspected_by=event.inspected_by)
    if isinstance(event, NominationApproved | NominationRejected):
        status = "approved" if isinstance(event, NominationApproved) else "rejected"
        return replace(state, status=status, decided_by=event.decided_by)
    if isinstance(event, NominationWithdrawn):
        return replace(state, status="withdrawn")
    return state


def _recommended(event: NominationRecommended) -> Nomination:
    return Nomination(
        nomination_id=event.nomination_id,
        cadre_id=event.cadre_id,
        sending_unit=event.sending_unit,
        placement_type=event.placement_type,
        host_unit=event.host_unit,
        host_post=event.host_post,
        post_level=event.post_level,
        posting_mode=event.posting_mode,
        policy_version=event.policy_version,
        criteria=tuple(CriterionResult.from_dict(c) for c in event.criteria),
        nominated_by=event.nominated_by,
        recommended_on=event.recommended_on,
        cadre_rank=event.cadre_rank,
    )


def cadre_hosts(nominations: Iterable[Nomination]) -> dict[str, frozenset[str]]:
    """Each cadre -> the host units its nominations engage (`engages_host`): those that read the cadre's record."""
    hosts: dict[str, set[str]] = {}
    for nomination in nominations:
        if nomination.engages_host:
            hosts.setdefault(nomination.cadre_id, set()).add(nomination.host_unit)
    return {cadre_id: frozenset(units) for cadre_id, units in hosts.items()}


def fold(events: Iterable[Event]) -> Nomination | None:
    """Replay a nomination's events in order; None when there are none."""
    return reduce(evolve, events, None)
