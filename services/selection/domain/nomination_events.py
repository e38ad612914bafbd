"""Events of the nomination aggregate; each step's principal is kept for separation of duties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from services.backbone.domain import Event


@dataclass(frozen=True)
class NominationRecommended(Event):
    """`criteria` lists {criterion, passed, hard, detail}; `eligible` is False when a hard one failed."""

    TYPE: ClassVar[str] = "selection.NominationRecommended"
    nomination_id: str
    cadre_id: str
    sending_unit: str
    cadre_rank: str
    placement_type: str
    host_unit: str
    host_post: str
    post_level: str
    posting_mode: str
    reason: str
    recommended_on: date
    nominated_by: str
    policy_version: str
    criteria: list[dict[str, Any]]
    eligible: bool


@dataclass(frozen=True)
class EligibilityOverridden(Event):
    TYPE: ClassVar[str] = "selection.EligibilityOverridden"
    nomination_id: str
    cadre_id: str
    policy_version: str
    failed_criteria: list[str]
    reason: str
    overridden_by: str


@dataclass(frozen=True)
class NominationInspected(Event):
    TYPE: ClassVar[str] = "selection.NominationInspected"
    nomination_id: str
    cadre_id: str
    findings: str
    passed: bool
    inspected_by: str


@dataclass(frozen=True)
class NominationApproved(Event):
    """Carries the placement so the posting service can start it without asking selection."""

    TYPE: ClassVar[str] = "selection.NominationApproved"
    nomination_id: str
    cadre_id: str
    sending_unit: str
    placement_type: str
    host_unit: str
    host_post: str
    post_level: str
    posting_mode: str
    decision_ref: str
    decision_date: date
    decided_by: str
    cadre_rank: str = ""
    """The cadre's rank when recommended: posting re-checks the posting-level rule against it."""


@dataclass(frozen=True)
class NominationRejected(Event):
    TYPE: ClassVar[str] = "selection.NominationRejected"
    nomination_id: str
    cadre_id: str
    decision_ref: str
    decision_date: date
    decided_by: str
    reason: str | None


@dataclass(frozen=True)
class NominationWithdrawn(Event):
    TYPE: ClassVar[str] = "selection.NominationWithdrawn"
    nomination_id: str
    cadre_id: str
    reason: str
    withdrawn_by: str


NOMINATION_EVENTS = (
    NominationRecommended,
    EligibilityOverridden,
    NominationInspected,
    NominationApproved,
    NominationRejected,
    NominationWithdrawn,
)
