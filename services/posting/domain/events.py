"""Events of a placement's lifecycle and of its responsibility agreement (Gates 2 and 3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.backbone.domain import Event


@dataclass(frozen=True)
class PlacementPlanned(Event):
    TYPE = "posting.PlacementPlanned"
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


@dataclass(frozen=True)
class AgreementDrafted(Event):
    TYPE = "posting.AgreementDrafted"
    placement_id: str
    version: int
    tasks: list[str]
    term_goals: list[str]
    post_requirements: list[str]
    reward_conditions: list[str]
    penalty_conditions: list[str]


@dataclass(frozen=True)
class AgreementAmended(Event):
    """A new version of the agreement; every party must sign it again."""

    TYPE = "posting.AgreementAmended"
    placement_id: str
    version: int
    tasks: list[str]
    term_goals: list[str]
    post_requirements: list[str]
    reward_conditions: list[str]
    penalty_conditions: list[str]
    reason: str


@dataclass(frozen=True)
class AgreementSigned(Event):
    TYPE = "posting.AgreementSigned"
    placement_id: str
    version: int
    party: str
    signed_by: str


@dataclass(frozen=True)
class PlacementStarted(Event):
    TYPE = "posting.PlacementStarted"
    placement_id: str
    started_on: date
    ends_on: date


@dataclass(frozen=True)
class PlacementExtended(Event):
    """The term lengthened; `decided_on` (added to v1): the day decided, within the term (null on older records)."""

    TYPE = "posting.PlacementExtended"
    placement_id: str
    extra_months: int
    term_months: int
    ends_on: date
    reason: str
    decided_on: date | None = None


@dataclass(frozen=True)
class PlacementCompleted(Event):
    TYPE = "posting.PlacementCompleted"
    placement_id: str
    outcome: str
    completed_on: date


@dataclass(frozen=True)
class PlacementRecalled(Event):
    TYPE = "posting.PlacementRecalled"
    placement_id: str
    reason: str
    recalled_on: date
